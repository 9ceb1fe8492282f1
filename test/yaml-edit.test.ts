import { describe, expect, it } from 'vitest';
import { editYamlText } from '../src/yaml/edit.js';

const doc = `# header comment
versions:
  v1:
    description: First   # trailing comment

    tokenSha256: aaa
environments:
  production:
    version: v1     # aligned comment
    channels:
      - name: a
        type: webhook
      - name: b
        type: webhook
  staging: {version: v1, tokenSha256: ccc}
`;

describe('editYamlText', () => {
  it('replaces a scalar in place, keeping its comment and every other byte', () => {
    expect(editYamlText(doc, ['environments', 'production', 'version'], 'v2')).toBe(
      doc.replace('version: v1     #', 'version: v2     #'),
    );
    // Inside a flow map too.
    expect(editYamlText(doc, ['environments', 'staging', 'version'], 'v9')).toBe(
      doc.replace('{version: v1,', '{version: v9,'),
    );
  });

  it('quotes values YAML would otherwise read as another type', () => {
    const out = editYamlText(doc, ['environments', 'production', 'version'], '1234')!;
    expect(out).toContain('version: "1234"     #');
  });

  it('adds a key after a named sibling, or at the end of its map', () => {
    const pinned = editYamlText(doc, ['environments', 'production', 'commit'], 'abc', 'version')!;
    expect(pinned).toBe(doc.replace('# aligned comment\n', '# aligned comment\n    commit: abc\n'));
    const added = editYamlText(doc, ['environments', 'dev'], { version: 'v1', tokenSha256: 'x' })!;
    expect(added).toBe(`${doc}  dev:\n    version: v1\n    tokenSha256: x\n`);
  });

  it('removes a key with its lines, and a list item', () => {
    expect(editYamlText(doc, ['versions', 'v1', 'description'], undefined)).toBe(
      doc.replace('    description: First   # trailing comment\n', ''),
    );
    expect(editYamlText(doc, ['environments', 'production', 'channels', 0], undefined)).toBe(
      doc.replace('      - name: a\n        type: webhook\n', ''),
    );
  });

  it('appends a list item', () => {
    const out = editYamlText(doc, ['environments', 'production', 'channels', 2], { name: 'c', type: 'webhook' })!;
    expect(out).toBe(
      doc.replace(
        '      - name: b\n        type: webhook\n',
        '      - name: b\n        type: webhook\n      - name: c\n        type: webhook\n',
      ),
    );
  });

  it('declines shapes it does not handle, so the caller re-renders', () => {
    expect(editYamlText(doc, ['environments', 'staging', 'commit'], 'x')).toBeNull(); // flow map
    expect(editYamlText('a:\n  b: 1\n', ['a', 'b'], undefined)).toBeNull(); // would empty the map
    expect(editYamlText('a: [unclosed\n', ['a'], 1)).toBeNull(); // not valid YAML
  });
});
