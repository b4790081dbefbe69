// Builds one JavaScript plugin: `node build.mjs SOURCE WIT_DIR OUT`, against
// the world `plugin` in WIT_DIR (written by `workbench plugin wit`), with
// none of the optional WASI features, so the component imports the
// workbench scopes it declares and nothing else of the host.
import { componentize } from '@bytecodealliance/componentize-js';
import { writeFile } from 'node:fs/promises';

const [sourcePath, witPath, out] = process.argv.slice(2);
if (!out) {
  console.error('usage: node build.mjs SOURCE WIT_DIR OUT');
  process.exit(2);
}
const { component } = await componentize({
  sourcePath,
  witPath,
  worldName: 'plugin',
  disableFeatures: ['stdio', 'random', 'clocks', 'http', 'fetch-event'],
});
await writeFile(out, component);
console.log(`built ${out} (${component.length} bytes)`);
