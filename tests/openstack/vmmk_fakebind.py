# ML2 mechanism driver "vmmk_fakebind" for the OpenStack test peer
# (tests/openstack/ostack.sh).
#
# The sandbox runs neutron-server without any L2 agent, so no shipped
# mechanism driver will bind a port and nova-compute fails the boot with
# PortBindingFailed. (neutron's own "test" driver asserts inside bind_port.)
# This driver binds every port on its first segment as an OVS port and marks
# it ACTIVE. Nothing is plugged anywhere, which suits nova's fake driver.
#
# ostack.sh copies this file into the state dir. There it writes a
# .dist-info with the entry point, so stevedore finds the driver on
# neutron-server's PYTHONPATH.

from neutron_lib.api.definitions import portbindings
from neutron_lib import constants
from neutron_lib.plugins.ml2 import api


class FakeBindMechanismDriver(api.MechanismDriver):
    """Binds any port on any host, with no agent involved."""

    def initialize(self):
        pass

    def bind_port(self, context):
        for segment in context.segments_to_bind:
            context.set_binding(segment[api.ID], portbindings.VIF_TYPE_OVS,
                                {portbindings.CAP_PORT_FILTER: True,
                                 portbindings.OVS_HYBRID_PLUG: False},
                                status=constants.PORT_STATUS_ACTIVE)
            return
