// `npm run soak [-- N]`: the honesty soak (concurrent.ts, N random concurrent
// programs with every switch off); `npm run soak -- cluster [--minutes M]`:
// the cluster soak (cluster.ts). Neither is part of `npm test`.

if (process.argv[2] === 'cluster') {
  const { soakCluster } = await import('./cluster.js');
  process.exitCode = await soakCluster(process.argv.slice(3));
} else {
  await import('./concurrent.js');
}
