# The module every agent's container gets: the harness as its one service, the agent CLI, the
# agent's user, the Contract's environment, and the agent's own agent.nix (from its `applied`
# checkout) on top. The controller renders a flake per revision (templates/container/flake.nix)
# whose system is this, builds it, and boots it in an unprivileged systemd-nspawn container.
#
# name:     the agent's name.
# revision: the applied commit the system is built from (shown in the harness's description).
# agentNix: the agent's agent.nix.
# contract: the Contract's environment as the container sees it (HYPERHIVE_URL, HYPERHIVE_*_DIR,
#           HYPERHIVE_TOKEN_FILE, …) and the rest of the agent's environment; never a secret (the
#           token stays a file, bound read-only by nspawn).
# hyperhive: the hyperhive package (the harness, and `claude`).
{ name, revision ? null, agentNix, contract, hyperhive }:
{ config, lib, pkgs, ... }:

let
  required = [ "HYPERHIVE_AGENT" "HYPERHIVE_URL" "HYPERHIVE_TOKEN_FILE" "HYPERHIVE_CONFIG_DIR" "HYPERHIVE_STATE_DIR" "HYPERHIVE_ORPHAN_TIMEOUT_MS" ];
  env = lib.filterAttrs (_: v: builtins.isString v) contract;
  missing = builtins.filter (k: !(env ? ${k})) required;
  cfg = config.hyperhiveAgent;
in
{
  imports = [ agentNix ];

  options.hyperhive = lib.mkOption {
    # The agent's surface (hyperhive.json's shape: tools, mcpServers, env, runtime), set by agent.nix.
    type = lib.types.attrsOf lib.types.anything;
    default = { };
    description = "The agent's surface: allowed and denied tools, extra MCP servers, env (hyperhive.json).";
  };

  options.hyperhiveAgent = {
    name = lib.mkOption { type = lib.types.str; readOnly = true; default = name; description = "The agent's name."; };
    user = lib.mkOption {
      type = lib.types.str;
      default = "root";
      description = "The user the harness runs as: root of the container, which is an unprivileged uid range of its own on the host (--private-users=pick). The terminal opens as this user.";
    };
    environment = lib.mkOption {
      type = lib.types.attrsOf lib.types.str;
      readOnly = true;
      default = env;
      description = "The harness's environment: the Contract's HYPERHIVE_* as the container sees them, and the agent's env.";
    };
  };

  config = {
    assertions = [
      { assertion = missing == [ ]; message = "hyperhive agent ${name}: the Contract's environment lacks ${lib.concatStringsSep ", " missing}"; }
      { assertion = env.HYPERHIVE_AGENT or name == name; message = "hyperhive agent ${name}: HYPERHIVE_AGENT says ${env.HYPERHIVE_AGENT or ""}"; }
    ];

    boot.isContainer = true;
    networking.hostName = lib.mkDefault "hyperhive-${name}";
    # The container shares the host's network (see the README): the host's resolver is its own.
    networking.useHostResolvConf = lib.mkDefault true;
    environment.systemPackages = [ hyperhive pkgs.git pkgs.util-linux ];

    users.users.${cfg.user} = lib.mkIf (cfg.user != "root") {
      isNormalUser = true;
      home = cfg.environment.HYPERHIVE_STATE_DIR;
      createHome = false;
    };

    systemd.services.hyperhive-harness = {
      description = "hyperhive harness for agent ${name}${lib.optionalString (revision != null) " at ${builtins.substring 0 7 revision}"}";
      wantedBy = [ "multi-user.target" ];
      after = [ "network.target" ];
      path = [ hyperhive pkgs.git pkgs.coreutils ];
      environment = cfg.environment // { HOME = cfg.environment.HYPERHIVE_STATE_DIR; };
      unitConfig.RequiresMountsFor = [ cfg.environment.HYPERHIVE_STATE_DIR cfg.environment.HYPERHIVE_CONFIG_DIR ];
      serviceConfig = {
        ExecStart = "${hyperhive}/bin/hyperhive harness";
        User = cfg.user;
        WorkingDirectory = cfg.environment.HYPERHIVE_STATE_DIR;
        # No restart inside: the harness ending ends the container, with its status, so the
        # controller sees every crash (and restarts it with backoff, or shows CrashLoop).
        Restart = "no";
        SuccessAction = "exit";
        FailureAction = "exit";
      };
    };

    system.stateVersion = lib.mkDefault "24.11";
  };
}
