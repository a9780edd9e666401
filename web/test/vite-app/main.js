// An app bundled by Vite that imports the package by name.
import { Pond, TopicExists } from 'logpond-web';

const pond = await Pond.openIndexedDb('vite-app');
if (!pond.hasTopic('clicks')) await pond.createTopic('clicks');
await pond.send('clicks', 'bundled');
await pond.flush();
let code = null;
try {
  await pond.createTopic('clicks');
} catch (e) {
  code = e instanceof TopicExists ? e.code : String(e);
}
window.result = { end: pond.offsets('clicks').endOffset, code };
await pond.close();
