// Typed usage of the CommonJS entry, checked by `tsc --noEmit`; never run.
import logpond = require('logpond');

const pond: logpond.Pond = logpond.Pond.memory({ clock: new logpond.ManualClock(0) });
pond.createTopic('t');
const md: logpond.RecordMetadata = pond.send('t', 'x');
const records: logpond.LogRecord[] = pond.read('t', 0);
try {
  pond.read('t', 0, { offset: 99 });
} catch (e) {
  if (e instanceof logpond.OffsetOutOfRange) console.log(e.code);
}
const c: logpond.Consumer = pond.consumer({ group: 'g', topics: ['t'] });
const q: logpond.Queue = pond.queue('t', { subscription: 's' });
void c.poll({ timeoutMs: 100 }).then((rs: logpond.LogRecord[]) => rs.length);
void q.receive().then((ds: logpond.Delivery[]) => ds.forEach((d) => d.ack()));
void [md, records];
