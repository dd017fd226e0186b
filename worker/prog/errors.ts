// The one error type for bad program input (JSON, protobuf, xfs_io scripts, fsx
// opsfiles). Its message already says where the problem is, in the form the user
// can jump to: `FILE:LINE: reason` for line-oriented scripts, and
// `FILE: $.threads[0].ops[3].len: reason` for structured programs, so callers
// print it as is and never add a location of their own.

export class ProgramInputError extends Error {
  override name = 'ProgramInputError';

  constructor(message: string) {
    super(message);
  }
}
