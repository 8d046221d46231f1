// A minimal PNG reader for the browser tests: 8-bit greyscale, RGB, indexed (PLTE, tRNS),
// grey+alpha or RGBA, not interlaced (what Chromium writes for screenshots and tilecast for
// colour tiles). Pixels are read from the file's bytes, so no colour management or canvas
// readback sits between the picture and the check.
import { inflateSync } from 'node:zlib';

const CHANNELS = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Decodes a PNG buffer to {width, height, rgb(x, y) -> [r, g, b], alpha(x, y) -> 0..255}. */
export function readPng(buf) {
  if (buf.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
  let pos = 8;
  let width, height, channels, colour;
  let palette = null;
  let trns = Buffer.alloc(0);
  const idat = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    const body = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const [depth, type_, , , interlace] = body.subarray(8, 13);
      colour = type_;
      channels = CHANNELS[colour];
      if (depth !== 8 || !channels || interlace !== 0) {
        throw new Error(`unsupported PNG: depth ${depth}, colour type ${colour}, interlace ${interlace}`);
      }
    } else if (type === 'PLTE') {
      palette = Buffer.from(body);
    } else if (type === 'tRNS') {
      trns = Buffer.from(body);
    } else if (type === 'IDAT') {
      idat.push(body);
    } else if (type === 'IEND') {
      break;
    }
    pos += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const px = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = px.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? px.subarray((y - 1) * stride, y * stride) : Buffer.alloc(stride);
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? out[i - channels] : 0;
      const b = up[i];
      const c = i >= channels ? up[i - channels] : 0;
      let v = line[i];
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else if (filter !== 0) throw new Error(`bad PNG filter ${filter}`);
      out[i] = v & 255;
    }
  }
  if (colour === 3 && !palette) throw new Error('indexed PNG without PLTE');
  const rgb = (x, y) => {
    const i = (y * width + x) * channels;
    if (colour === 3) return [...palette.subarray(px[i] * 3, px[i] * 3 + 3)];
    return channels < 3 ? [px[i], px[i], px[i]] : [px[i], px[i + 1], px[i + 2]];
  };
  const alpha = (x, y) => {
    const i = (y * width + x) * channels;
    if (colour === 3) return px[i] < trns.length ? trns[px[i]] : 255;
    return channels === 2 || channels === 4 ? px[i + channels - 1] : 255;
  };
  return { width, height, rgb, alpha };
}
