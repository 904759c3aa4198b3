# Builds the static pintrace with the same set-up script the README uses,
# then ships only the binary.
#   docker build -t pintrace .
#   docker run --rm --privileged --pid=host -v /sys/kernel:/sys/kernel \
#       -v "$PWD":/out pintrace record -o /out/pin.trace --duration 30s
FROM debian:bookworm AS build
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends sudo ca-certificates >/dev/null
COPY . /src
WORKDIR /src
RUN ./setup.sh build

FROM debian:bookworm-slim
COPY --from=build /src/build/pintrace /usr/local/bin/pintrace
ENTRYPOINT ["/usr/local/bin/pintrace"]
