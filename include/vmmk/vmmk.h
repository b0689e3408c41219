/**
 * @file vmmk/vmmk.h
 * @brief Everything libvmmk offers: include this one header.
 */
#ifndef VMMK_VMMK_H
#define VMMK_VMMK_H

#include <vmmk/common.h>
#include <vmmk/vm.h>
#include <vmmk/flavor.h>
#include <vmmk/netmap.h>
#include <vmmk/image.h>
#include <vmmk/copier.h>
#include <vmmk/vsphere.h>
#include <vmmk/cloud.h>

#endif /* VMMK_VMMK_H */
