/// <reference types="vite/client" />

// Fallback while @reformer/backend-webgpu's declarations are not built (it is written in parallel);
// when its dist/index.d.ts exists, TypeScript uses that instead. The page checks the export at run time.
declare module '@reformer/backend-webgpu';
