// Export a reproducer in one of the formats `foliofuzz export` offers.
// `report` is a bug report for a mailing list (report.ts).

import { exportC } from './c.js';
import { exportFsx } from './fsx.js';
import { exportReport } from './report.js';
import { reproJson, type Repro } from './repro.js';
import { textTrace } from './text.js';
import { exportXfsIo } from './xfs-io.js';

export type ExportFormat = 'json' | 'text' | 'xfs_io' | 'c' | 'fsx' | 'report';

export const EXPORT_FORMATS: readonly ExportFormat[] = ['json', 'text', 'xfs_io', 'c', 'fsx', 'report'];

export interface ExportedFile {
  name: string;
  text: string;
}

/**
 * The files of one export: one for most formats, one per thread for a
 * concurrent program's xfs_io scripts. Throws ExportError (worker/repro/errors.ts)
 * when the program does not fit the format.
 */
export function exportRepro(r: Repro, format: ExportFormat): { files: ExportedFile[] } {
  switch (format) {
    case 'json': return { files: [{ name: 'repro.json', text: reproJson(r) }] };
    case 'text': return { files: [{ name: 'trace.txt', text: textTrace(r) }] };
    case 'xfs_io': return { files: exportXfsIo(r) };
    case 'c': return { files: [{ name: 'repro.c', text: exportC(r) }] };
    case 'fsx': return { files: [{ name: 'repro.fsxops', text: exportFsx(r) }] };
    case 'report': return { files: [{ name: 'report.txt', text: exportReport(r) }] };
  }
}
