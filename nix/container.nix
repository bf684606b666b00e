# The base of every agent's container: the harness and the CLI it drives, the Contract's
# environment, and the agent's own agent.nix (from its `applied` checkout) merged on top.
{ agentNix, name, hyperhive }:
{ config, lib, pkgs, ... }:

{
  imports = [ agentNix ];

  boot.isContainer = true;
  networking.hostName = name;
  environment.systemPackages = [ hyperhive pkgs.git ];

  systemd.services."hyperhive-harness" = {
    description = "hyperhive harness for agent ${name}";
    wantedBy = [ "multi-user.target" ];
    environment = {
      HYPERHIVE_AGENT = name;
      HYPERHIVE_CONFIG_DIR = "/etc/hyperhive/config";
      HYPERHIVE_STATE_DIR = "/var/lib/hyperhive-agent";
      HYPERHIVE_TOKEN_FILE = "/etc/hyperhive/token";
    };
    serviceConfig = {
      ExecStart = "${hyperhive}/bin/hyperhive harness";
      Restart = "always";
      StateDirectory = "hyperhive-agent";
    };
  };

  system.stateVersion = "24.11";
}
