import { describe, expect, it } from 'vitest';
import { parseSavedMedia } from './media-spec.js';

const IMAGE = { modality: 'image', layout: { size: 8, scan: 'patch', patch: 2 } };

describe('parseSavedMedia', () => {
  it('reads what `megabyte train` writes for images and audio', () => {
    const saved = { ...IMAGE, data: 'openclipart', maxFiles: 40, validationFraction: 0.05 };
    expect(parseSavedMedia(JSON.stringify(saved), 'run/media.json')).toEqual(saved);
    const unvalidated = { ...IMAGE, data: 'test', validationFraction: 0 };
    expect(parseSavedMedia(JSON.stringify(unvalidated), 'media.json')).toEqual(unvalidated);
    expect(parseSavedMedia('{"modality":"audio","sampleRate":8000}', 'm.json')).toEqual({
      modality: 'audio',
      sampleRate: 8000,
    });
  });

  it('keeps only the layout fields of an image layout', () => {
    const text = JSON.stringify({ modality: 'image', layout: { ...IMAGE.layout, note: 'x' } });
    expect(parseSavedMedia(text, 'm.json')).toEqual(IMAGE);
  });

  it('names the file and what it should hold when it is wrong', () => {
    expect(() => parseSavedMedia('{"modality":', 'run/media.json')).toThrow(
      /^run\/media\.json is not valid JSON \(.*\): it should be the media\.json that `megabyte train/,
    );
    expect(() => parseSavedMedia('[1]', 'm.json')).toThrow(/m\.json should be an object/);
    expect(() => parseSavedMedia('{"modality":"text"}', 'm.json')).toThrow(
      /m\.json: modality must be "image" or "audio", got "text" \(a text model has no media\.json/,
    );
    expect(() => parseSavedMedia('{"modality":"image"}', 'm.json')).toThrow(
      /^m\.json is for an image model but has no layout/,
    );
    expect(() =>
      parseSavedMedia('{"modality":"image","layout":{"size":6,"scan":"patch","patch":4}}', 'm.json'),
    ).toThrow(/\(in its layout\)$/);
    expect(() => parseSavedMedia('{"modality":"audio","sampleRate":0}', 'm.json')).toThrow(
      /m\.json: sampleRate must be a positive integer \(Hz\), got 0/,
    );
    expect(() => parseSavedMedia(JSON.stringify({ ...IMAGE, validationFraction: 2 }), 'm.json')).toThrow(
      /m\.json: validationFraction must be a number from 0 \(no validation\) up to 1, got 2/,
    );
    expect(() => parseSavedMedia(JSON.stringify({ ...IMAGE, data: 7 }), 'm.json')).toThrow(
      /m\.json: data must be a string, got 7/,
    );
  });
});
