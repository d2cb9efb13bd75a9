# The stock Telegraf image with oasis-telegraf and this repository's
# Telegraf configuration in it. Built by docker-compose.yml.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd ./cmd
COPY internal ./internal
COPY plugins ./plugins
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/oasis-telegraf ./cmd/oasis-telegraf
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/oasis-bot ./cmd/oasis-bot

FROM telegraf:1.37.2
COPY --from=build /out/oasis-telegraf /out/oasis-bot /usr/local/bin/
COPY telegraf.conf telegraf-compose.conf /etc/telegraf/
COPY telegraf/ /etc/telegraf/oasis/
