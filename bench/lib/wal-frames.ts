/**
 * @module bench/lib/wal-frames. Reads the commits out of a copy of an SQLite `-wal` file
 * (bench/wal-pages.ts): which database pages each transaction wrote. The format
 * (https://www.sqlite.org/fileformat.html, "The WAL file format"): a 32-byte header (page size
 * at offset 8, the salts at 16 and 20), then frames of a 24-byte header (the page number, the
 * database size in pages for the frame that commits a transaction and 0 otherwise, the salts)
 * and one page. Frames are valid while their salts are the header's: the first frame with other
 * salts is left over from before the WAL was last restarted (or not yet written when the file
 * was copied), and everything from it on is ignored, as is a transaction without its commit frame.
 */

export interface WalCommit {
  /** Byte offset of the transaction's first frame: with the salts, identifies it across copies. */
  key: string;
  /** The page numbers it wrote, in order (a page written twice counts twice). */
  pages: number[];
}

export interface WalFile {
  pageSize: number;
  commits: WalCommit[];
}

const headerBytes = 32;
const frameHeaderBytes = 24;

export function parseWal(bytes: Uint8Array): WalFile {
  if (bytes.length < headerBytes) return { pageSize: 0, commits: [] };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  if (magic !== 0x377f0682 && magic !== 0x377f0683) throw new Error(`not an SQLite WAL file (magic 0x${magic.toString(16)})`);
  const pageSize = view.getUint32(8);
  const salt1 = view.getUint32(16);
  const salt2 = view.getUint32(20);
  const commits: WalCommit[] = [];
  let pages: number[] = [];
  let first = headerBytes;
  for (let at = headerBytes; at + frameHeaderBytes + pageSize <= bytes.length; at += frameHeaderBytes + pageSize) {
    if (view.getUint32(at + 8) !== salt1 || view.getUint32(at + 12) !== salt2) break;
    if (pages.length === 0) first = at;
    pages.push(view.getUint32(at));
    if (view.getUint32(at + 4) !== 0) {
      commits.push({ key: `${salt1}:${salt2}:${first}`, pages });
      pages = [];
    }
  }
  return { pageSize, commits };
}

/**
 * Pages written per commit, by what owns them (`owner(page)`: a table or index name and page
 * kind, from SQLite's dbstat), averaged over `commits`; largest first.
 */
export function pagesPerCommit(commits: readonly WalCommit[], owner: (page: number) => string): { owner: string; perCommit: number }[] {
  const counts = new Map<string, number>();
  for (const commit of commits) for (const page of commit.pages) counts.set(owner(page), (counts.get(owner(page)) ?? 0) + 1);
  return [...counts].map(([name, n]) => ({ owner: name, perCommit: n / commits.length })).sort((a, b) => b.perCommit - a.perCommit);
}
