# NixOS container module of this hyperhive agent.
#
# The agent's surface (allowed/denied tools, extra MCP servers, env) lives in ./hyperhive.json so
# that agents and tools can edit it as data. Operators may instead write the set in Nix directly,
# replacing the `surface` binding below with an attribute set of the same shape, e.g.
#
#   surface = {
#     tools = { allow = [ "Read" "Edit" ]; deny = [ ]; };
#     mcpServers = { };
#     env = { };
#   };
#
# Anything else this container needs (packages, services) goes into this module as usual; every
# change is proposed on `proposed` and takes effect only once an operator approves it.
{ config, lib, pkgs, ... }:

let
  surface = builtins.fromJSON (builtins.readFile ./hyperhive.json);
in
{
  hyperhive = surface;
}
