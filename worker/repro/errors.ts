// The error of an export that the target format cannot express; its message
// says which op (thread and index) does not fit and why.

export class ExportError extends Error {
  override name = 'ExportError';
}
