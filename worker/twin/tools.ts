// The system tools provisioning drives (losetup, mkfs.*, mount), found on
// PATH or in the sbin directories a non-login PATH may lack, or by their path
// (the fuse daemon we build), and run synchronously: provisioning runs in
// exit and signal handlers too.

import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** command -> the Debian package that has it. */
export const TOOL_PACKAGES: Record<string, string> = {
  losetup: 'mount',
  mount: 'mount',
  umount: 'mount',
  'mkfs.ext4': 'e2fsprogs',
  'mkfs.xfs': 'xfsprogs',
};

const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

export class ToolError extends Error {
  override name = 'ToolError';
}

const found = new Map<string, string>();

/** A command's path: as given when it has a slash, else searched for. */
export function findTool(command: string): string {
  const known = found.get(command);
  if (known) return known;
  if (command.includes('/')) return command;
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean), ...SBIN];
  for (const dir of dirs) {
    const path = join(dir, command);
    try {
      accessSync(path, constants.X_OK);
      found.set(command, path);
      return path;
    } catch {
      // next
    }
  }
  const pkg = TOOL_PACKAGES[command];
  throw new ToolError(`${command} not found${pkg ? ` (Debian package ${pkg}: apt-get install -y ${pkg})` : ''}`);
}

/** Run a tool; its stdout, trimmed. Throws ToolError with its stderr when it fails. */
export function runTool(command: string, args: string[]): string {
  const r = spawnSync(findTool(command), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) throw new ToolError(`${command} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new ToolError(`${command} ${args.join(' ')} failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout).trim().slice(0, 500)}`);
  }
  return r.stdout.trim();
}
