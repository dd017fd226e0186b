// Kernel error numbers. Sim functions follow the kernel convention: a negative
// errno as the return value, a non-negative value on success.

export const EPERM = 1;
export const ENOENT = 2;
export const EIO = 5;
export const EBADF = 9;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const EXDEV = 18;
export const ENODEV = 19;
export const EINVAL = 22;
export const EFBIG = 27;
export const ENOSPC = 28;
export const ESPIPE = 29;
export const EROFS = 30;
export const ENOSYS = 38;
export const EOPNOTSUPP = 95;
export const ECONNABORTED = 103;
export const ENOTBLK = 15;
export const EIOCBQUEUED = 529;

const NAMES: Record<number, string> = {
  [EPERM]: 'EPERM', [ENOENT]: 'ENOENT', [EIO]: 'EIO', [EBADF]: 'EBADF', [EAGAIN]: 'EAGAIN',
  [ENOMEM]: 'ENOMEM', [EFAULT]: 'EFAULT', [EBUSY]: 'EBUSY', [EEXIST]: 'EEXIST', [EXDEV]: 'EXDEV',
  [ENODEV]: 'ENODEV', [EINVAL]: 'EINVAL', [EFBIG]: 'EFBIG', [ENOSPC]: 'ENOSPC', [ESPIPE]: 'ESPIPE',
  [EROFS]: 'EROFS', [ENOSYS]: 'ENOSYS', [EOPNOTSUPP]: 'EOPNOTSUPP', [ECONNABORTED]: 'ECONNABORTED', [ENOTBLK]: 'ENOTBLK',
  [EIOCBQUEUED]: 'EIOCBQUEUED',
};

/** "-EINVAL" for -22, the number itself for anything that is not an error. */
export function errname(ret: number): string {
  if (ret >= 0) return String(ret);
  return '-' + (NAMES[-ret] ?? `E${-ret}`);
}
