# Container settings for the project's own test machines (the default).
# They cannot run crun (hybrid cgroups) nor raise rlimits, and reach no image
# registry, so the test images are built locally from Debian packages.
export CONTAINERS_CONF := $(CURDIR)/tools/env/sandbox-containers.conf
export HERD_IMAGE_PREFIX := localhost/herd-debian
HERD_BUILD_IMAGES := yes
