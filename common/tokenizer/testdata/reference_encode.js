// Prints the GPT-2 token ids that the reference encoder (npm gpt-3-encoder) gives each line of
// stdin, one JSON list per line. Lines are split on "\n" only and must be valid UTF-8.
//   node reference_encode.js <dir of node_modules/gpt-3-encoder> < lines.txt
'use strict';
const fs = require('fs');
const path = require('path');

const encoder = require(path.resolve(process.argv[2]));
const lines = fs.readFileSync(0, 'utf8').split('\n');
if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
const out = lines.map((line) => JSON.stringify(encoder.encode(line)));
process.stdout.write(out.join('\n') + (out.length > 0 ? '\n' : ''));
