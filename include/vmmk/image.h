/**
 * @file vmmk/image.h
 * @brief Image properties (Glance image / Cinder volume_image_metadata)
 *        that a migrated guest needs to boot and run well on Nova.
 *
 * The table and the reason for each choice is docs/image-properties.md.
 */
#ifndef VMMK_IMAGE_H
#define VMMK_IMAGE_H

#include <vmmk/common.h>
#include <vmmk/vm.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Disk bus choice for hw_disk_bus. */
typedef enum vmmk_disk_bus {
    VMMK_DISK_BUS_AUTO = 0,    /**< from the source controller (see docs) */
    VMMK_DISK_BUS_VIRTIO,      /**< virtio-blk */
    VMMK_DISK_BUS_SCSI,        /**< virtio-scsi (or the emulated model when not converted) */
    VMMK_DISK_BUS_SATA,
    VMMK_DISK_BUS_IDE
} vmmk_disk_bus;

/** NIC model choice for hw_vif_model. */
typedef enum vmmk_vif_model {
    VMMK_VIF_MODEL_AUTO = 0,   /**< virtio when converted, else the source's model */
    VMMK_VIF_MODEL_VIRTIO,
    VMMK_VIF_MODEL_E1000,
    VMMK_VIF_MODEL_E1000E,
    VMMK_VIF_MODEL_VMXNET3
} vmmk_vif_model;

/** Options; initialise with VMMK_IMAGE_OPTIONS_INIT. */
typedef struct vmmk_image_options {
    unsigned version;          /**< VMMK_IMAGE_OPTIONS_VERSION */
    vmmk_disk_bus disk_bus;
    vmmk_vif_model vif_model;
    bool converted;            /**< the guest gets virtio drivers (virt-v2v); default true */
    bool qemu_guest_agent;     /**< set hw_qemu_guest_agent=yes; default true */
} vmmk_image_options;

#define VMMK_IMAGE_OPTIONS_VERSION 1
#define VMMK_IMAGE_OPTIONS_INIT \
    { VMMK_IMAGE_OPTIONS_VERSION, VMMK_DISK_BUS_AUTO, VMMK_VIF_MODEL_AUTO, true, true }

/** A sorted list of string properties. */
typedef struct vmmk_properties {
    char **keys;
    char **values;
    size_t n;
} vmmk_properties;

/** Derive the image properties for @p vm (options may be NULL for the
 *  defaults).  Keys are sorted.
 *  @param[out] out  free with vmmk_properties_free(). */
VMMK_EXTERN int vmmk_image_properties(vmmk_properties **out, const vmmk_vm *vm,
                                      const vmmk_image_options *opts);

/** Value of @p key, or NULL.  The pointer belongs to @p props. */
VMMK_EXTERN const char *vmmk_properties_get(const vmmk_properties *props, const char *key);

/** Serialise as one flat JSON object of strings.
 *  @param[out] out  free with vmmk_string_free(). */
VMMK_EXTERN int vmmk_properties_to_json(char **out, const vmmk_properties *props, unsigned flags);

VMMK_EXTERN void vmmk_properties_free(vmmk_properties *props);

/** An empty property list, to fill with vmmk_properties_set() (metadata
 *  and image properties given to the cloud calls).
 *  @param[out] out  free with vmmk_properties_free(). */
VMMK_EXTERN int vmmk_properties_new(vmmk_properties **out);

/** Set @p key to @p value (both copied), replacing an existing value and
 *  keeping the keys sorted.  VMMK_EINVAL for a NULL or empty key or a
 *  NULL value. */
VMMK_EXTERN int vmmk_properties_set(vmmk_properties *props, const char *key, const char *value);

/** Remove @p key; 0 whether or not it was there. */
VMMK_EXTERN int vmmk_properties_unset(vmmk_properties *props, const char *key);

/** Parse "auto", "virtio", "scsi", "sata", "ide" / "auto", "virtio",
 *  "e1000", "e1000e", "vmxnet3".  @return 0 or VMMK_EINVAL (message names
 *  the value). */
VMMK_EXTERN int vmmk_disk_bus_parse(vmmk_disk_bus *out, const char *name);
VMMK_EXTERN int vmmk_vif_model_parse(vmmk_vif_model *out, const char *name);

#ifdef __cplusplus
}
#endif
#endif /* VMMK_IMAGE_H */
