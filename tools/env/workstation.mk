# An ordinary workstation with Podman and access to public images: the same
# scenarios run on a public systemd-enabled Debian image (tags 13 and 12) and
# Podman's own defaults. Override HERD_IMAGE_PREFIX to use another image.
# Those images have no sshd, so the scenarios use the podman connection.
HERD_IMAGE_PREFIX ?= docker.io/jrei/systemd-debian
export HERD_IMAGE_PREFIX
HERD_BUILD_IMAGES := no
export HERD_MOLECULE_CONNECTION := podman
