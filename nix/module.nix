# services.hyperhive: the controller as a hardened systemd service with its state in /var/lib/hyperhive.
{ self }:
{ config, lib, pkgs, ... }:

let
  cfg = config.services.hyperhive;
  nspawn = cfg.runtime == "nspawn";
  units = nspawn && cfg.systemd != "off";
  args = [
    "serve"
    "--state" cfg.stateDir
    "--listen" cfg.listen
    "--runtime" cfg.runtime
    "--systemd" cfg.systemd
  ] ++ lib.optionals (cfg.publicUrl != null) [ "--public-url" cfg.publicUrl ];
in
{
  options.services.hyperhive = {
    enable = lib.mkEnableOption "the hyperhive controller";

    package = lib.mkOption {
      type = lib.types.package;
      default = self.packages.${pkgs.stdenv.hostPlatform.system}.hyperhive;
      defaultText = lib.literalExpression "hyperhive.packages.\${system}.hyperhive";
      description = "The hyperhive package to run.";
    };

    stateDir = lib.mkOption {
      type = lib.types.strMatching "/[^:]*";
      default = "/var/lib/hyperhive";
      description = "The state dir: hyperhive.db, repos/, agents/, operator.token. An absolute path without ':' (nspawn binds from it).";
    };

    listen = lib.mkOption {
      type = lib.types.strMatching ".+:[0-9]+";
      default = "127.0.0.1:8000";
      description = "HOST:PORT of the API, web UI, git over HTTP and MCP endpoint. Keep it on loopback unless TLS is in front.";
    };

    publicUrl = lib.mkOption {
      type = lib.types.nullOr lib.types.str;
      default = null;
      example = "http://10.0.0.1:8000";
      description = "The controller's URL as agents reach it (HYPERHIVE_URL); default: the listen address.";
    };

    runtime = lib.mkOption {
      type = lib.types.enum [ "process" "nspawn" ];
      default = "nspawn";
      description = "Where agents run: unprivileged systemd-nspawn containers built from their flakes, or local processes (no isolation). An agent's hyperhive.json may pick the other with \"runtime\".";
    };

    systemd = lib.mkOption {
      type = lib.types.enum [ "auto" "on" "off" ];
      default = "on";
      description = "on: every agent is a transient unit hyperhive-agent-<name>.service under machine.slice, watched over D-Bus (agents survive a restart of the controller); off: the controller supervises its containers itself.";
    };

    operatorTokenFile = lib.mkOption {
      type = lib.types.nullOr lib.types.path;
      default = null;
      example = "/run/secrets/hyperhive-operator-token";
      description = "A file holding the operator token (one line); copied to <stateDir>/operator.token (mode 0600) before each start. Default: the controller makes one on first start. Keep it out of the Nix store (a string path, not a literal path).";
    };

    environment = lib.mkOption {
      type = lib.types.attrsOf lib.types.str;
      default = { };
      example = { HYPERHIVE_ORPHAN_TIMEOUT_MS = "300000"; HYPERHIVE_NSPAWN_ARGS = "--private-network"; };
      description = "Extra environment of the controller (the HYPERHIVE_* settings of the README). Never put secrets here: they end up in the Nix store.";
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      { assertion = cfg.operatorTokenFile == null || !(lib.hasPrefix builtins.storeDir (toString cfg.operatorTokenFile)); message = "services.hyperhive.operatorTokenFile must not be in the Nix store (it is world-readable there)"; }
      { assertion = !(cfg.environment ? HYPERHIVE_STATE); message = "services.hyperhive: set stateDir, not environment.HYPERHIVE_STATE"; }
    ];

    systemd.services.hyperhive = {
      description = "hyperhive controller";
      wantedBy = [ "multi-user.target" ];
      after = [ "network.target" ] ++ lib.optional units "dbus.service";
      wants = lib.optional units "dbus.service";
      path = [ pkgs.git config.nix.package pkgs.util-linux ] ++ lib.optional nspawn config.systemd.package;
      environment = {
        HYPERHIVE_LOG_STDERR = "1";
        # Agent systems are built from the flake this controller comes from (offline: its inputs are in the store).
        HYPERHIVE_FLAKE = "path:${self}";
      } // lib.optionalAttrs nspawn { HYPERHIVE_NSPAWN_NIXOS = "1"; } // cfg.environment;
      serviceConfig = {
        ExecStart = lib.escapeShellArgs ([ (lib.getExe cfg.package) ] ++ args);
        ExecStartPre = lib.optional (cfg.operatorTokenFile != null)
          "+${pkgs.coreutils}/bin/install -m 0600 -D -T ${lib.escapeShellArg (toString cfg.operatorTokenFile)} ${lib.escapeShellArg "${cfg.stateDir}/operator.token"}";
        Restart = "on-failure";
        RestartSec = "2s";
        # SIGTERM stops the controller cleanly; with --systemd on its agents are units of their own and run on.
        KillSignal = "SIGTERM";
        KillMode = "mixed";
        TimeoutStopSec = "30s";
        StateDirectory = lib.mkIf (cfg.stateDir == "/var/lib/hyperhive") "hyperhive";
        StateDirectoryMode = "0700";
        UMask = "0077";
        # nspawn needs root (user namespaces, mounts, chown of each agent's range); the process
        # runtime runs as a user of its own.
        User = if nspawn then "root" else "hyperhive";
        Group = if nspawn then "root" else "hyperhive";
        # Hardening, as far as nspawn allows: it mounts, makes namespaces, writes cgroups and
        # /run/systemd/nspawn, and its containers may gain privileges inside their own user namespace.
        ProtectSystem = if nspawn then "full" else "strict";
        ReadWritePaths = [ cfg.stateDir ];
        ProtectHome = true;
        PrivateTmp = true;
        NoNewPrivileges = !nspawn;
        RestrictSUIDSGID = !nspawn;
        ProtectKernelTunables = !nspawn;
        ProtectKernelModules = true;
        ProtectControlGroups = !nspawn;
        ProtectClock = true;
        ProtectHostname = !nspawn;
        LockPersonality = true;
        RestrictRealtime = true;
        MemoryDenyWriteExecute = false; # V8's JIT
        SystemCallArchitectures = "native";
        # With --systemd off the containers are this service's children: they need cgroups of their own.
        Delegate = nspawn && !units;
      };
    };

    users.users = lib.mkIf (!nspawn) { hyperhive = { isSystemUser = true; group = "hyperhive"; home = cfg.stateDir; }; };
    users.groups = lib.mkIf (!nspawn) { hyperhive = { }; };

    # Starting and stopping hyperhive-agent-*.service over the system bus: root may (systemd's
    # policy); should the service run as another user, this rule lets it manage exactly those units.
    security.polkit.enable = lib.mkIf units true;
    security.polkit.extraConfig = lib.mkIf units ''
      polkit.addRule(function(action, subject) {
        if ((action.id == "org.freedesktop.systemd1.manage-units" || action.id == "org.freedesktop.systemd1.manage-unit-files")
            && subject.user == "${config.systemd.services.hyperhive.serviceConfig.User}"
            && action.lookup("unit") !== undefined && action.lookup("unit").indexOf("hyperhive-agent-") == 0) {
          return polkit.Result.YES;
        }
      });
    '';
  };
}
