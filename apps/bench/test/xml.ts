/** A small XML well-formedness check for the tests: balanced tags, quoted attributes, known entities. */
export function checkWellFormedXml(text: string): string[] {
  const problems: string[] = [];
  const stack: string[] = [];
  const tokens = text.match(/<[^>]*>|[^<]+/g) ?? [];
  let roots = 0;
  for (const t of tokens) {
    if (!t.startsWith('<')) {
      const bad = t.match(/&(?!(amp|lt|gt|quot|apos|#\d+);)/);
      if (bad) problems.push(`bare & in text: ${t.slice(0, 40)}`);
      if (stack.length === 0 && t.trim() !== '') problems.push(`text outside the root: ${t.slice(0, 40)}`);
      continue;
    }
    if (t.startsWith('<?') || t.startsWith('<!--')) continue;
    const close = /^<\/([\w:-]+)\s*>$/.exec(t);
    if (close) {
      const open = stack.pop();
      if (open !== close[1]) problems.push(`</${close[1]}> closes <${open}>`);
      continue;
    }
    const m = /^<([\w:-]+)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>$/.exec(t);
    if (!m) {
      problems.push(`malformed tag: ${t.slice(0, 60)}`);
      continue;
    }
    if (stack.length === 0) roots++;
    if (m[3] !== '/') stack.push(m[1]!);
  }
  if (stack.length) problems.push(`unclosed: ${stack.join(', ')}`);
  if (roots !== 1) problems.push(`${roots} root elements`);
  return problems;
}
