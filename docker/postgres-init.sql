-- Run once by the postgres image on an empty volume: Orthanc's index lives in its own
-- database beside Sentinel's (the same server, the same user).
CREATE DATABASE orthanc;
