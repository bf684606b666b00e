# The flake of one agent's container, rendered by the controller for each revision it builds
# (never edited by hand: the agent's own module is ./config/agent.nix, from its `applied` branch).
# Its only input is the hyperhive flake the controller runs from, so nixpkgs is whatever that
# flake's lock pins: building needs no network once those inputs are in the store.
{
  description = "hyperhive agent container";

  inputs.hyperhive.url = @hyperhive@;

  outputs = { self, hyperhive }: {
    nixosConfigurations.agent = hyperhive.lib.agentSystem {
      system = @system@;
      name = @agent@;
      revision = @revision@;
      agentNix = ./config/agent.nix;
      contract = builtins.fromJSON (builtins.readFile ./contract.json);
    };
  };
}
