#!/bin/sh
# A Docker Swarm cluster volume holding a Nix closure, used by a service.
# The --opt keys are nixmount's volume context keys (paths, expression, flakeRef or a
# system such as x86_64-linux); nixmount's controller refuses any other key by name.
set -eu

# Read-only on any number of nodes: each node realises the closure once and mounts it read-only.
# (The store path is an example: name one your nodes can substitute from their caches.)
docker volume create \
  --driver nixmount \
  --type mount \
  --scope multi \
  --sharing readonly \
  --opt paths=/nix/store/0c6j2dzm3b6yv3k9mf7h1g6fl6z3d2c7-hello-2.12.1 \
  hello

docker service create \
  --name hello \
  --mount type=cluster,src=hello,dst=/nix/var/hello \
  debian:bookworm-slim \
  sh -c 'ls /nix/var/hello/store && sleep infinity'

# --sharing all (or onewriter, or --scope single) gives each node a writable overlay
# over the closure instead; what a task writes is dropped when the volume is released.
