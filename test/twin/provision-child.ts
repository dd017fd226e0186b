// A process that provisions kernel twin mounts and then ends in the way it
// is told, for cleanup.test.ts: `node provision-child.js PARENT MODE`.
//   hold     provision ext4 and fuse, say "ready", wait (to be signalled or killed)
//   throw    provision ext4, say "ready", throw an uncaught error
//   fail     provision ext4 (the test makes a step fail), print the error
// Without arguments (as a test runner might start it) it does nothing.

import { provisionMount } from '../../worker/twin/provision.js';

function main(parent: string, mode: string): void {
  if (mode === 'fail') {
    try {
      provisionMount({ fs: 'ext4', inode: 'extent', blockSize: 4096 }, { parent });
      process.stdout.write('provisioned\n');
    } catch (err) {
      process.stdout.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    }
    return;
  }
  provisionMount({ fs: 'ext4', inode: 'indirect', blockSize: 1024 }, { parent });
  if (mode === 'hold') provisionMount({ fs: 'fuse', inode: 'extent', blockSize: 4096 }, { parent });
  process.stdout.write('ready\n');
  if (mode === 'throw') throw new Error('thrown after provisioning');
  setInterval(() => {}, 1000);
}

const [parent, mode] = process.argv.slice(2);
if (parent && mode) main(parent, mode);
