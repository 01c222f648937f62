// koffi as the CLI bundle sees it (mk/bundle.mk aliases 'koffi' to this file).
// koffi is a native addon and stays outside the bundle; an external import
// would be hoisted to the bundle's top and load (dlopen) koffi for every
// command, `parse` too. Required from here, it loads when the module that
// uses it (runtime/sys/libc.ts) is first initialised, as in dist/.
import { createRequire } from 'node:module';

const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
export default koffi;
