# services.hyperhive: the controller as a systemd service with its state in /var/lib/hyperhive.
{ self }:
{ config, lib, pkgs, ... }:

let
  cfg = config.services.hyperhive;
in
{
  options.services.hyperhive = {
    enable = lib.mkEnableOption "the hyperhive controller";
    package = lib.mkOption {
      type = lib.types.package;
      default = self.packages.${pkgs.system}.hyperhive;
      description = "The hyperhive package to run.";
    };
    listen = lib.mkOption {
      type = lib.types.str;
      default = "127.0.0.1:8000";
      description = "Address of the API, web UI, git over HTTP and MCP endpoint. Keep it on loopback unless TLS is in front.";
    };
    runtime = lib.mkOption {
      type = lib.types.enum [ "process" "nspawn" ];
      default = "process";
      description = "Where agents run: local processes (no isolation) or systemd-nspawn containers.";
    };
    stateDir = lib.mkOption {
      type = lib.types.str;
      default = "/var/lib/hyperhive";
      description = "The state dir: hyperhive.db, repos/, agents/, operator.token.";
    };
  };

  config = lib.mkIf cfg.enable {
    systemd.services.hyperhive = {
      description = "hyperhive controller";
      wantedBy = [ "multi-user.target" ];
      after = [ "network.target" ];
      path = [ pkgs.git pkgs.nix ];
      serviceConfig = {
        ExecStart = "${cfg.package}/bin/hyperhive serve --state ${cfg.stateDir} --listen ${cfg.listen} --runtime ${cfg.runtime} --systemd on";
        Restart = "on-failure";
        StateDirectory = "hyperhive";
        StateDirectoryMode = "0700";
        KillSignal = "SIGTERM";
      };
    };
  };
}
