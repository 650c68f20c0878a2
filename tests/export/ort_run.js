// Run exported ONNX models with ONNX Runtime for Node (tests/test_export.c).
// usage: node ort_run.js MODULE_DIR LIST
// LIST: one job a line, "MODEL INPUT OUTPUT N C H W"; INPUT holds N*C*H*W native floats, OUTPUT
// gets the first output, N rows. Prints "ok MODEL" per job; exit 1 with a reason on failure.
'use strict';
const fs = require('fs');
const ort = require(process.argv[2]);

async function main() {
  const jobs = fs.readFileSync(process.argv[3], 'utf8').split('\n').filter((l) => l.trim());
  for (const line of jobs) {
    const [model, input, output, ...d] = line.trim().split(/\s+/);
    const [n, c, h, w] = d.map(Number);
    const buf = fs.readFileSync(input);
    const x = new Float32Array(buf.buffer, buf.byteOffset, n * c * h * w);
    const session = await ort.InferenceSession.create(model, {
      executionProviders: ['cpu'],
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
    });
    const r = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [n, c, h, w]) });
    const y = r[session.outputNames[0]];
    if (y.dims.length !== 2 || y.dims[0] !== n) throw new Error(`${model}: output dims ${y.dims}`);
    fs.writeFileSync(output, Buffer.from(y.data.buffer, y.data.byteOffset, y.data.byteLength));
    console.log('ok', model);
  }
}

main().catch((e) => {
  console.log('FAIL', String(e && e.message ? e.message : e).replace(/\n/g, ' ').slice(0, 800));
  process.exit(1);
});
