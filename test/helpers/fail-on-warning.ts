// Node warnings (deprecations, listener leaks, unhandled rejections) point at real bugs: fail the run on them.
process.on('warning', (warning) => {
  throw warning;
});
