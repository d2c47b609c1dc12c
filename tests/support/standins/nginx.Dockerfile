# Stand-in for the official nginx image where no registry can be reached: NGINX from Debian's
# unstable release (bookworm's 1.22 cannot parse `resolve` in an upstream), run in the
# foreground as the official image does, with wget for the compose file's healthcheck.
ARG BASE=merchstore-standin/debian:sid
FROM ${BASE}
# A mirror may serve unstable's Release file past its Valid-Until (a snapshot older than a
# week); its signature is still checked.
RUN apt-get -o Acquire::Check-Valid-Until=false update -qq \
    && apt-get install -y -qq --no-install-recommends nginx wget \
    && rm -rf /var/lib/apt/lists/*
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
