// A workbench plugin in JavaScript. Each scope is a module named after its
// interface; a refused read throws, with the host's reason as its payload.
import { get as openId } from 'workbench:plugin/user-id@0.3.0';
import { get as name } from 'workbench:plugin/user-name@0.3.0';

const encoder = new TextEncoder();

function read(get) {
  try {
    return { value: get() };
  } catch (e) {
    return { refused: e && e.payload !== undefined ? e.payload : String(e) };
  }
}

export const handler = {
  handle(request) {
    if (request.path !== '/') throw { tag: 'not-found', val: `nothing at ${request.path}` };
    const id = read(openId);
    const who = read(name);
    const body = { id: id.value ?? null, name: who.value ?? null, refused: who.refused ?? null, greeting: who.value ? `你好，${who.value}` : '你好' };
    return { status: 200, headers: [['content-type', 'application/json']], body: encoder.encode(JSON.stringify(body)) };
  },
};
