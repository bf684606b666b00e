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

      lib = {
        # The module every agent's container gets (its agent.nix on top).
        agentContainer = import ./nix/container.nix;
        # An agent's whole system, as the controller's rendered flake (templates/container) builds it.
        agentSystem = { system, name, revision ? null, agentNix, contract }:
          nixpkgs.lib.nixosSystem {
            inherit system;
            modules = [
              (import ./nix/container.nix { inherit name revision agentNix contract; hyperhive = self.packages.${system}.default; })
            ];
          };
      };

      devShells = forAll (pkgs: {
        default = pkgs.mkShell {
          # What the tests use: Node 20, git, Nix for agent.nix checks, nspawn and D-Bus for the containers.
          packages = [ pkgs.nodejs_20 pkgs.git pkgs.nix pkgs.systemd pkgs.util-linux pkgs.dbus pkgs.python3Packages.python-dbusmock pkgs.chromium ];
        };
      });

      # A NixOS VM with the service enabled: for hosts that can build it (KVM, a binary cache).
      checks = nixpkgs.lib.genAttrs [ "x86_64-linux" ] (system:
        let pkgs = nixpkgs.legacyPackages.${system}; in {
          vm = pkgs.testers.runNixOSTest {
            name = "hyperhive";
            nodes.machine = { ... }: {
              imports = [ self.nixosModules.default ];
              services.hyperhive = { enable = true; runtime = "nspawn"; systemd = "on"; };
              virtualisation.memorySize = 2048;
              environment.systemPackages = [ pkgs.curl ];
            };
            testScript = ''
              machine.wait_for_unit("hyperhive.service")
              machine.wait_until_succeeds("curl -sf http://127.0.0.1:8000/api/health")
              machine.succeed("test -f /var/lib/hyperhive/operator.token")
              machine.succeed("test \"$(stat -c %a /var/lib/hyperhive/operator.token)\" = 600")
              token = machine.succeed("cat /var/lib/hyperhive/operator.token").strip()
              machine.succeed(f"curl -sf -H 'Authorization: Bearer {token}' -H 'content-type: application/json' -d '{{\"name\":\"worker\"}}' http://127.0.0.1:8000/api/agents")
              machine.wait_until_succeeds("systemctl is-active hyperhive-agent-worker.service", timeout=600)
              machine.succeed(f"curl -sf -H 'Authorization: Bearer {token}' http://127.0.0.1:8000/api/runtime | grep -q '\"state\":\"connected\"'")
              machine.systemctl("restart hyperhive.service")
              machine.wait_until_succeeds("curl -sf http://127.0.0.1:8000/api/health")
              machine.succeed("systemctl is-active hyperhive-agent-worker.service")
            '';
          };
        });
    };
}
