/**
 * The findings text (`findings()` in markdown.ts) as blocks a page can render without a markdown
 * library: it only ever writes paragraphs that start with a `**bold**` title and `- ` bullet lists.
 */
export type FindingsBlock = { kind: 'paragraph'; strong: string; rest: string } | { kind: 'list'; items: string[] };

/** Splits the findings text into paragraphs (a bold title and the rest of the line) and bullet lists. */
export function findingsBlocks(text: string): FindingsBlock[] {
  const blocks: FindingsBlock[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('- ')) {
      const last = blocks[blocks.length - 1];
      if (last?.kind === 'list') last.items.push(line.slice(2));
      else blocks.push({ kind: 'list', items: [line.slice(2)] });
      continue;
    }
    const bold = /^\*\*(.+?)\*\*\s*(.*)$/.exec(line);
    blocks.push(bold ? { kind: 'paragraph', strong: bold[1]!, rest: bold[2]! } : { kind: 'paragraph', strong: '', rest: line });
  }
  return blocks;
}
