# The controller as a package: the sources with their npm dependencies, run by Node 20 through tsx
# (there is no build step), with git, nix, systemd-nspawn and nsenter on its PATH.
#
# The npm dependencies come from package-lock.json through nixpkgs' importNpmLock: each is fetched
# by the integrity hash the lock file already records, so there is no npmDepsHash to compute
# online (and none to update when a dependency changes).
{ lib, buildNpmPackage, importNpmLock, nodejs_20, git, nix, systemd, util-linux, python3, makeWrapper, src }:

buildNpmPackage {
  pname = "hyperhive";
  version = (builtins.fromJSON (builtins.readFile (src + "/package.json"))).version;
  inherit src;
  nodejs = nodejs_20;

  npmDeps = importNpmLock { npmRoot = src; };
  npmConfigHook = importNpmLock.npmConfigHook;

  # No build step: tsx runs the TypeScript sources. Native modules (better-sqlite3, node-pty) are
  # compiled by npm's install scripts, hence python3 for node-gyp.
  dontNpmBuild = true;
  nativeBuildInputs = [ makeWrapper python3 ];

  installPhase = ''
    runHook preInstall
    mkdir -p $out/lib/hyperhive $out/bin
    cp -r bin controller repos templates web nix flake.nix node_modules package.json $out/lib/hyperhive/
    makeWrapper ${nodejs_20}/bin/node $out/bin/hyperhive \
      --add-flags $out/lib/hyperhive/bin/hyperhive.mjs \
      --prefix PATH : ${lib.makeBinPath [ git nix nodejs_20 systemd util-linux ]}
    # The agent CLI the harness drives (pinned in package-lock.json), on PATH as `claude`.
    makeWrapper $out/lib/hyperhive/node_modules/.bin/claude $out/bin/claude \
      --prefix PATH : ${lib.makeBinPath [ nodejs_20 git ]}
    runHook postInstall
  '';

  meta = {
    description = "A git-native GitOps controller for a fleet of AI coding agents";
    mainProgram = "hyperhive";
    license = lib.licenses.mit;
    platforms = lib.platforms.linux;
  };
}
