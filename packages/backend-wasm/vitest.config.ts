import { reformerVitestConfig } from '@reformer/vitest-preset';

export default reformerVitestConfig();
