# The controller as a package: the sources with their npm dependencies, run by Node 20 through tsx
# (there is no build step), plus git for the repos and nix for checking agent.nix.
{ lib, buildNpmPackage, nodejs_20, git, nix, makeWrapper, src }:

buildNpmPackage {
  pname = "hyperhive";
  version = (builtins.fromJSON (builtins.readFile (src + "/package.json"))).version;
  inherit src;
  nodejs = nodejs_20;
  # Filled in by `nix build` once (prefetch-npm-deps package-lock.json); no network is reached here.
  npmDepsHash = lib.fakeHash;
  dontNpmBuild = true;
  nativeBuildInputs = [ makeWrapper ];

  installPhase = ''
    runHook preInstall
    mkdir -p $out/lib/hyperhive $out/bin
    cp -r bin controller repos templates web node_modules package.json $out/lib/hyperhive/
    makeWrapper ${nodejs_20}/bin/node $out/bin/hyperhive \
      --add-flags $out/lib/hyperhive/bin/hyperhive.mjs \
      --prefix PATH : ${lib.makeBinPath [ git nix nodejs_20 ]}
    runHook postInstall
  '';

  meta = {
    description = "A git-native GitOps controller for a fleet of AI coding agents";
    mainProgram = "hyperhive";
    platforms = lib.platforms.linux;
  };
}
