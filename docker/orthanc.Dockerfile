# The PACS as a container: Debian's own orthanc, orthanc-dicomweb, orthanc-wsi and
# orthanc-postgresql (its index in PostgreSQL, the files on a volume), with the project's
# configuration and Lua hook (orthanc/).
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends orthanc orthanc-dicomweb orthanc-wsi orthanc-postgresql \
    && rm -rf /var/lib/apt/lists/*
COPY orthanc/lua/sentinel.lua /etc/orthanc/lua/sentinel.lua
COPY docker/orthanc.json /etc/sentinel-orthanc/orthanc.json
EXPOSE 8042 4242
# Orthanc reads every .json file of the folder: orthanc.json plus the mounted users.json.
CMD ["/usr/sbin/Orthanc", "/etc/sentinel-orthanc/"]
