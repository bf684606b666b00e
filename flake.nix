{
  description = "hyperhive: a git-native GitOps controller for a fleet of AI coding agents";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.11";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAll = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAll (pkgs: rec {
        hyperhive = pkgs.callPackage ./nix/package.nix { src = self; };
        default = hyperhive;
      });

      # services.hyperhive: the controller as a systemd service.
      nixosModules.hyperhive = import ./nix/module.nix { inherit self; };
      nixosModules.default = self.nixosModules.hyperhive;

      # What an agent's container is built from: its agent.nix (from the `applied` checkout) on top
      # of this base module. The nspawn runtime (ROADMAP) builds it before it restarts the agent.
      lib.agentContainer = import ./nix/container.nix;
    };
}
