#!/usr/bin/env node
// Reference face descriptors for Takeback's golden test (issue 5).
//
// Runs the face-recognition network of @vladmandic/face-api (the JavaScript
// port of dlib's ResNet, with the weights scripts/fetch-models put in
// models/) under Node with TensorFlow.js's pure-JavaScript CPU backend, on
// the aligned 150x150 chips that `takeback faces --chips DIR` wrote, and
// writes tests/golden/face_descriptors.json. See README.md for the steps.
//
// Usage:
//   node golden.js --faces FACES.jsonl [--models DIR] [--out FILE]
//                  [--max-per-image N] [--fork-scaling]
//
// FACES.jsonl is the output of `takeback faces --chips DIR IMAGE...`: each
// face's "chip" names its PPM file. The descriptors takeback printed there
// are compared with the reference ones and the largest difference per
// component is reported.
//
// Scaling: dlib (and the original face-api.js) feed the network
// (x - mean) / 256; this fork's JavaScript divides by 255 instead. Each
// pixel x is therefore given to the fork as mean + (x - mean) * 255 / 256,
// which the fork turns into (x - mean) / 256, the input dlib sees.
// --fork-scaling feeds the raw pixels instead (for comparison only; its
// output is not a golden file).
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const tf = require('@tensorflow/tfjs');
// face-api's node-wasm build also loads @tensorflow/tfjs-backend-wasm; only
// the CPU backend is used here.
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

const MEAN = [122.782, 117.001, 104.298];
const CHIP_SIZE = 150;
const DESCRIPTOR_SIZE = 128;

function usage(message) {
  if (message) process.stderr.write(`golden.js: ${message}\n`);
  process.stderr.write(
    'Usage: node golden.js --faces FACES.jsonl [--models DIR] [--out FILE] [--max-per-image N] [--fork-scaling]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const repo = path.resolve(__dirname, '..', '..');
  const args = {
    faces: null,
    models: process.env.TAKEBACK_MODEL_DIR || path.join(repo, 'models'),
    out: null,
    maxPerImage: Infinity,
    forkScaling: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--faces') args.faces = value();
    else if (a === '--models') args.models = value();
    else if (a === '--out') args.out = value();
    else if (a === '--max-per-image') args.maxPerImage = Number(value());
    else if (a === '--fork-scaling') args.forkScaling = true;
    else usage(`unknown argument ${a}`);
  }
  if (!args.faces) usage('--faces is required');
  if (!(args.maxPerImage >= 1)) usage('--max-per-image needs a positive number');
  return args;
}

// Binary PPM (P6, maxval 255) -> {width, height, rgb: Uint8Array}.
function readPpm(file) {
  const data = fs.readFileSync(file);
  let pos = 0;
  const token = () => {
    for (;;) {
      while (pos < data.length && /\s/.test(String.fromCharCode(data[pos]))) pos++;
      if (data[pos] !== 0x23) break;  // '#' comment
      while (pos < data.length && data[pos] !== 0x0a) pos++;
    }
    const start = pos;
    while (pos < data.length && !/\s/.test(String.fromCharCode(data[pos]))) pos++;
    return data.toString('latin1', start, pos);
  };
  const magic = token();
  const width = Number(token());
  const height = Number(token());
  const maxval = Number(token());
  pos++;  // the single whitespace byte before the pixels
  if (magic !== 'P6' || maxval !== 255 || !(width > 0) || !(height > 0)) {
    throw new Error(`${file}: not a binary 8-bit PPM`);
  }
  const size = width * height * 3;
  if (data.length - pos < size) throw new Error(`${file}: truncated PPM`);
  return { width, height, rgb: new Uint8Array(data.buffer, data.byteOffset + pos, size) };
}

// FNV-1a, 64-bit, of the chip's RGB bytes, as 16 hex digits: lets the C++
// test tell a different chip (alignment changed) from a different network.
function fnv1a64(bytes) {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, '0');
}

async function describe(net, chip, forkScaling) {
  const input = new Float32Array(chip.rgb.length);
  for (let i = 0; i < chip.rgb.length; i++) {
    const m = MEAN[i % 3];
    input[i] = forkScaling ? chip.rgb[i] : m + (chip.rgb[i] - m) * (255 / 256);
  }
  const tensor = tf.tensor3d(input, [chip.height, chip.width, 3], 'float32');
  const descriptor = await net.computeFaceDescriptor(tensor);
  tensor.dispose();
  return Array.from(descriptor);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  await tf.setBackend('cpu');
  await tf.ready();
  if (tf.getBackend() !== 'cpu' || faceapi.tf.getBackend() !== 'cpu') throw new Error('the CPU backend is not active');
  const net = faceapi.nets.faceRecognitionNet;
  await net.loadFromDisk(args.models);

  const lines = fs.readFileSync(args.faces, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const entries = [];
  let maxDelta = 0;
  let worst = '';
  for (const line of lines) {
    const image = JSON.parse(line);
    if (image.error) throw new Error(`${image.path}: takeback faces failed: ${image.error.message}`);
    const faces = image.faces.slice(0, args.maxPerImage);
    for (let index = 0; index < faces.length; index++) {
      const face = faces[index];
      if (!face.chip) throw new Error(`${image.path}: no "chip" (run takeback faces with --chips DIR)`);
      const chip = readPpm(face.chip);
      if (chip.width !== CHIP_SIZE || chip.height !== CHIP_SIZE) throw new Error(`${face.chip}: not ${CHIP_SIZE}x${CHIP_SIZE}`);
      const descriptor = await describe(net, chip, args.forkScaling);
      if (descriptor.length !== DESCRIPTOR_SIZE) throw new Error(`${face.chip}: descriptor of ${descriptor.length}`);
      const source = path.basename(image.path);
      for (let k = 0; k < DESCRIPTOR_SIZE; k++) {
        const d = Math.abs(descriptor[k] - face.descriptor[k]);
        if (d > maxDelta) {
          maxDelta = d;
          worst = `${source} face ${index} component ${k}`;
        }
      }
      entries.push({
        source,
        face: index,
        box: face.box,
        chip_fnv1a64: fnv1a64(chip.rgb),
        descriptor: descriptor.map((v) => Number(v.toPrecision(9))),
      });
    }
  }
  const scaling = args.forkScaling ? '(x - mean) / 255 (the fork\'s own)' : '(x - mean) / 256 (dlib\'s)';
  process.stderr.write(`golden.js: ${entries.length} faces, scaling ${scaling}; ` +
                       `max |takeback - reference| per component: ${maxDelta.toExponential(3)} (${worst})\n`);
  if (args.out) {
    const packageLock = require('./package-lock.json');
    const version = (name) => packageLock.packages[`node_modules/${name}`].version;
    const weights = path.join(args.models, 'face_recognition_model.bin');
    const golden = {
      generator: 'tools/face-golden/golden.js',
      reference: `@vladmandic/face-api ${version('@vladmandic/face-api')} FaceRecognitionNet, ` +
                 `@tensorflow/tfjs ${version('@tensorflow/tfjs')} backend ${tf.getBackend()}, Node ${process.version}`,
      model_sha256: crypto.createHash('sha256').update(fs.readFileSync(weights)).digest('hex'),
      input_scaling: scaling,
      faces: entries,
    };
    // One face per line keeps the file small and its diffs readable.
    const body = golden.faces.map((f) => `    ${JSON.stringify(f)}`).join(',\n');
    const head = JSON.stringify({ ...golden, faces: [] }, null, 2).replace(/\[\]\n}$/, '');
    fs.writeFileSync(args.out, `${head}[\n${body}\n  ]\n}\n`);
    process.stderr.write(`golden.js: wrote ${args.out}\n`);
  }
}

main().catch((e) => {
  process.stderr.write(`golden.js: ${e.stack || e}\n`);
  process.exit(1);
});
