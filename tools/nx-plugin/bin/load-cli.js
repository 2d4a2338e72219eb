// Runs a command module's main(argv): published, its built JavaScript sits beside this
// folder; in the workspace, only the TypeScript source exists and tsx loads it.
module.exports = function runCli(modulePath) {
  try {
    require.resolve(`${modulePath}.js`);
  } catch {
    require('tsx/cjs');
  }
  require(modulePath)
    .main(process.argv.slice(2))
    .then(
      (code) => (process.exitCode = code),
      (error) => {
        console.error(error);
        process.exitCode = 1;
      },
    );
};
