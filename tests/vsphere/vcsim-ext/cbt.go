// Test-only extension for libvmmk's vSphere test peer: Changed Block Tracking
// (VirtualMachine.QueryChangedDiskAreas) for vcsim, which govmomi 0.24 lacks.
//
// tests/vsphere/vcsim.sh copies this file into simulator/ of a private copy of
// the Debian govmomi source tree before building vcsim; no upstream file is
// modified.  Semantics and limits are described in docs/vcsim.md; in short:
//
//   - A disk's data is the flat file next to its descriptor in the simulated
//     datastore: backing "[ds] dir/name.vmdk" reads "dir/name-flat.vmdk" under
//     the datastore's local directory (upload it with PUT /folder/... or
//     `govc datastore.upload`).  A missing file, and anything past its end,
//     reads as zeros.
//   - When a snapshot is created (CreateSnapshot_Task) of a VM with
//     config.changeTrackingEnabled=true, the content state of each of its
//     disks is recorded as one SHA-256 digest per 64 KiB block, under the
//     changeId "vmmk-cbt:<snapshot moref>:<disk key>".  That changeId is set in
//     the snapshot's config.hardware.device[].backing.changeId.
//   - QueryChangedDiskAreas(snapshot B, deviceKey, startOffset, changeId A)
//     returns the 64 KiB blocks whose digest differs between the state of A
//     and the state at B; changeId "*" returns the non-zero blocks at B.
//     Records outlive RemoveSnapshot (as real change ids do) and are dropped
//     when change tracking is switched off (a CBT reset) or the VM destroyed.
//
// The snapshot hook is a Registry handler (RegisterObject) added through
// RegisterEndpoint, which vcsim runs once its Map is final.
package simulator

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

const (
	// cbtBlockSize is the tracking granularity: changed areas are whole
	// 64 KiB blocks (clipped to the query window and the disk capacity).
	cbtBlockSize = 64 * 1024
	// cbtIDPrefix starts every change id this extension hands out.
	cbtIDPrefix = "vmmk-cbt:"
	// cbtDefaultSpan bounds the bytes one QueryChangedDiskAreas call covers
	// (DiskChangeInfo.length), so clients must loop as the API requires.
	// VMMK_CBT_MAX_SPAN (bytes, in vcsim's environment) overrides it; 0 or
	// less means the whole rest of the disk.
	cbtDefaultSpan = int64(4) << 30
)

var cbtZeroDigest = sha256.Sum256(make([]byte, cbtBlockSize))

// cbtState is the content state of one disk at one moment.
type cbtState struct {
	vm       types.ManagedObjectReference
	key      int32
	epoch    uint64 // the VM's CBT generation when captured
	capacity int64
	file     string     // local path of the flat file that was read
	blocks   [][32]byte // digest per block; blocks past the end are zero
	err      error      // the flat file could not be read
}

func (s *cbtState) digest(i int64) [32]byte {
	if s == nil || i >= int64(len(s.blocks)) {
		return cbtZeroDigest
	}
	return s.blocks[i]
}

type cbtTracker struct {
	self types.ManagedObjectReference

	mu      sync.Mutex
	reg     *Registry
	states  map[string]*cbtState                    // change id -> state
	seen    map[types.ManagedObjectReference]bool   // snapshots seen at creation
	epoch   map[types.ManagedObjectReference]uint64 // VM -> CBT generation
	enabled map[types.ManagedObjectReference]bool   // VM -> last seen changeTrackingEnabled
}

var vmmkCBT = &cbtTracker{
	self:    types.ManagedObjectReference{Type: "VmmkCbtTracker", Value: "vmmk-cbt-tracker"},
	states:  make(map[string]*cbtState),
	seen:    make(map[types.ManagedObjectReference]bool),
	epoch:   make(map[types.ManagedObjectReference]uint64),
	enabled: make(map[types.ManagedObjectReference]bool),
}

func init() {
	RegisterEndpoint(func(_ *Service, r *Registry) {
		vmmkCBT.mu.Lock()
		vmmkCBT.reg = r
		vmmkCBT.mu.Unlock()
		r.AddHandler(vmmkCBT)
	})
}

func cbtChangeID(snapshot types.ManagedObjectReference, key int32) string {
	return fmt.Sprintf("%s%s:%d", cbtIDPrefix, snapshot.Value, key)
}

// cbtParseChangeID checks the form "vmmk-cbt:<snapshot-N>:<key>".
func cbtParseChangeID(id string) bool {
	rest := strings.TrimPrefix(id, cbtIDPrefix)
	if rest == id {
		return false
	}
	i := strings.LastIndexByte(rest, ':')
	if i <= 0 || !strings.HasPrefix(rest[:i], "snapshot-") {
		return false
	}
	_, err := strconv.ParseInt(rest[i+1:], 10, 32)
	return err == nil
}

func cbtEnabled(cfg *types.VirtualMachineConfigInfo) bool {
	return cfg != nil && cfg.ChangeTrackingEnabled != nil && *cfg.ChangeTrackingEnabled
}

func (t *cbtTracker) Reference() types.ManagedObjectReference { return t.self }

func (t *cbtTracker) registry() *Registry {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.reg != nil {
		return t.reg
	}
	return Map
}

// observe notes the VM's current change tracking flag.  Switching it off is
// a CBT reset: change ids handed out before stop being valid.  The caller
// holds the VM's lock (it runs inside a VM method or task).
func (t *cbtTracker) observe(vm *VirtualMachine) (enabled bool, epoch uint64) {
	enabled = cbtEnabled(vm.Config)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.enabled[vm.Self] && !enabled {
		t.epoch[vm.Self]++
		for id, s := range t.states {
			if s.vm == vm.Self {
				delete(t.states, id)
			}
		}
		log.Printf("vmmk-cbt: %s: change tracking switched off; change ids reset", vm.Self.Value)
	}
	t.enabled[vm.Self] = enabled
	return enabled, t.epoch[vm.Self]
}

// PutObject records the disks' state when a snapshot is created.  It runs in
// CreateSnapshot_Task after the snapshot's config was copied from the VM and
// before the task completes.
func (t *cbtTracker) PutObject(obj mo.Reference) {
	snap, ok := obj.(*VirtualMachineSnapshot)
	if !ok {
		return
	}
	vm, ok := t.registry().Get(snap.Vm).(*VirtualMachine)
	if !ok || vm.Config == nil {
		return
	}
	enabled, epoch := t.observe(vm)

	t.mu.Lock()
	t.seen[snap.Self] = true
	t.mu.Unlock()

	if !enabled || !cbtEnabled(&snap.Config) {
		return // no change ids for snapshots taken while CBT is off
	}

	// snapshot.Config is a shallow copy of the VM's: give the snapshot its own
	// device slice and disk copies before setting backing.changeId.
	devices := make([]types.BaseVirtualDevice, len(snap.Config.Hardware.Device))
	copy(devices, snap.Config.Hardware.Device)
	for i, dev := range devices {
		disk, ok := dev.(*types.VirtualDisk)
		if !ok {
			continue
		}
		id := cbtChangeID(snap.Self, disk.Key)
		state := t.capture(vm, disk, epoch)
		t.mu.Lock()
		t.states[id] = state
		t.mu.Unlock()
		if backing := cbtBackingWithChangeID(disk.Backing, id); backing != nil {
			d := *disk
			d.Backing = backing
			devices[i] = &d
		}
	}
	snap.Config.Hardware.Device = devices
}

// UpdateObject notices reconfigurations: every VM task that completes is a
// chance to see changeTrackingEnabled go from true to false.
func (t *cbtTracker) UpdateObject(obj mo.Reference, _ []types.PropertyChange) {
	task, ok := obj.(*mo.Task)
	if !ok || task.Info.Entity == nil || task.Info.Entity.Type != "VirtualMachine" {
		return
	}
	if task.Info.State != types.TaskInfoStateSuccess {
		return
	}
	if vm, ok := t.registry().Get(*task.Info.Entity).(*VirtualMachine); ok && vm.Config != nil {
		t.observe(vm)
	}
}

// RemoveObject forgets a destroyed VM.  Removing a snapshot keeps its change
// ids valid, as on ESXi (a backup removes its snapshot and queries changes
// since its change id the next time).
func (t *cbtTracker) RemoveObject(ref types.ManagedObjectReference) {
	if ref.Type != "VirtualMachine" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, s := range t.states {
		if s.vm == ref {
			delete(t.states, id)
		}
	}
	delete(t.epoch, ref)
	delete(t.enabled, ref)
}

func cbtBackingWithChangeID(b types.BaseVirtualDeviceBackingInfo, id string) types.BaseVirtualDeviceBackingInfo {
	switch x := b.(type) {
	case *types.VirtualDiskFlatVer2BackingInfo:
		c := *x
		c.ChangeId = id
		return &c
	case *types.VirtualDiskSparseVer2BackingInfo:
		c := *x
		c.ChangeId = id
		return &c
	case *types.VirtualDiskSeSparseBackingInfo:
		c := *x
		c.ChangeId = id
		return &c
	case *types.VirtualDiskRawDiskMappingVer1BackingInfo:
		c := *x
		c.ChangeId = id
		return &c
	}
	return nil
}

// flatFile maps the disk's backing "[ds] dir/name.vmdk" to the local path of
// "dir/name-flat.vmdk" in that datastore.
func (t *cbtTracker) flatFile(vm *VirtualMachine, disk *types.VirtualDisk) (string, string, error) {
	fb, ok := disk.Backing.(types.BaseVirtualDeviceFileBackingInfo)
	if !ok {
		return "", "", fmt.Errorf("disk %d has no file backing", disk.Key)
	}
	info := fb.GetVirtualDeviceFileBackingInfo()
	p, fault := parseDatastorePath(info.FileName)
	if fault != nil {
		return info.FileName, "", fmt.Errorf("bad datastore path %q", info.FileName)
	}

	reg := t.registry()
	var ds *Datastore
	if info.Datastore != nil {
		ds, _ = reg.Get(*info.Datastore).(*Datastore)
	}
	if ds == nil || ds.Name != p.Datastore {
		ds = nil
		refs := append([]types.ManagedObjectReference{}, vm.Datastore...)
		if vm.Runtime.Host != nil {
			if h, ok := reg.Get(*vm.Runtime.Host).(*HostSystem); ok {
				refs = append(refs, h.Datastore...)
			}
		}
		for _, ref := range refs {
			if d, ok := reg.Get(ref).(*Datastore); ok && d.Name == p.Datastore {
				ds = d
				break
			}
		}
	}
	if ds == nil {
		return info.FileName, "", fmt.Errorf("datastore %q not found", p.Datastore)
	}
	flat := strings.TrimSuffix(p.Path, ".vmdk") + "-flat.vmdk"
	return info.FileName, path.Join(ds.Info.GetDatastoreInfo().Url, flat), nil
}

// capture reads the disk's flat file and digests it per block.
func (t *cbtTracker) capture(vm *VirtualMachine, disk *types.VirtualDisk, epoch uint64) *cbtState {
	s := &cbtState{vm: vm.Self, key: disk.Key, epoch: epoch, capacity: getDiskSize(disk)}
	_, file, err := t.flatFile(vm, disk)
	if err != nil {
		s.err = err
		return s
	}
	s.file = file

	f, err := os.Open(file)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.err = err
		}
		return s // missing flat file: all zeros
	}
	defer f.Close()

	nblocks := (s.capacity + cbtBlockSize - 1) / cbtBlockSize
	buf := make([]byte, cbtBlockSize)
	last := -1
	for i := int64(0); i < nblocks; i++ {
		n, err := io.ReadFull(f, buf)
		if n == 0 && (err == io.EOF || err == io.ErrUnexpectedEOF) {
			break
		}
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			s.err = err
			return s
		}
		for j := n; j < len(buf); j++ {
			buf[j] = 0
		}
		d := cbtZeroDigest
		if !cbtIsZero(buf) {
			d = sha256.Sum256(buf)
			last = int(i)
		}
		s.blocks = append(s.blocks, d)
		if n < len(buf) {
			break
		}
	}
	s.blocks = s.blocks[:last+1] // trailing zero blocks are implicit
	log.Printf("vmmk-cbt: %s disk %d: recorded %d non-zero 64 KiB blocks of %d (%s)",
		vm.Self.Value, disk.Key, cbtCountData(s.blocks), nblocks, file)
	return s
}

func cbtIsZero(b []byte) bool {
	var zero [4096]byte
	for len(b) > 0 {
		n := len(b)
		if n > len(zero) {
			n = len(zero)
		}
		if !bytes.Equal(b[:n], zero[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

func cbtCountData(blocks [][32]byte) int {
	n := 0
	for _, d := range blocks {
		if d != cbtZeroDigest {
			n++
		}
	}
	return n
}

func cbtSpan() int64 {
	v, ok := os.LookupEnv("VMMK_CBT_MAX_SPAN")
	if !ok {
		return cbtDefaultSpan
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return cbtDefaultSpan
	}
	if n <= 0 {
		return 0
	}
	if n < cbtBlockSize {
		return cbtBlockSize
	}
	return n / cbtBlockSize * cbtBlockSize
}

type cbtFault struct {
	msg   string
	fault types.BaseMethodFault
}

func cbtInvalidArgument(prop, msg string) *cbtFault {
	return &cbtFault{
		msg:   "A specified parameter was not correct: " + prop + " (" + msg + ")",
		fault: &types.InvalidArgument{InvalidProperty: prop},
	}
}

func cbtFileFault(file, msg string) *cbtFault {
	return &cbtFault{msg: "Error caused by file " + file + ": " + msg, fault: &types.FileFault{File: file}}
}

func cbtFindDisk(devices []types.BaseVirtualDevice, key int32) *types.VirtualDisk {
	for _, dev := range devices {
		if disk, ok := dev.(*types.VirtualDisk); ok && disk.Key == key {
			return disk
		}
	}
	return nil
}

func (t *cbtTracker) query(ctx *Context, vm *VirtualMachine, req *types.QueryChangedDiskAreas) (*types.DiskChangeInfo, *cbtFault) {
	reg := ctx.Map
	if reg == nil {
		reg = t.registry()
	}

	// The disk as it is at the queried state: in the snapshot's config, or
	// in the VM's current config when no snapshot is given.
	config := vm.Config
	var snap *VirtualMachineSnapshot
	if req.Snapshot != nil {
		obj := reg.Get(*req.Snapshot)
		if obj == nil {
			return nil, &cbtFault{
				msg:   fmt.Sprintf("managed object not found: %s", *req.Snapshot),
				fault: &types.ManagedObjectNotFound{Obj: *req.Snapshot},
			}
		}
		s, ok := obj.(*VirtualMachineSnapshot)
		if !ok || s.Vm != vm.Self {
			return nil, cbtInvalidArgument("snapshot", fmt.Sprintf("%s is not a snapshot of %s", req.Snapshot.Value, vm.Self.Value))
		}
		snap = s
		config = &s.Config
	}
	if config == nil {
		return nil, cbtInvalidArgument("deviceKey", "VM has no configuration")
	}
	disk := cbtFindDisk(config.Hardware.Device, req.DeviceKey)
	if disk == nil {
		return nil, cbtInvalidArgument("deviceKey", fmt.Sprintf("no virtual disk with key %d", req.DeviceKey))
	}
	diskFile := ""
	if fb, ok := disk.Backing.(types.BaseVirtualDeviceFileBackingInfo); ok {
		diskFile = fb.GetVirtualDeviceFileBackingInfo().FileName
	}

	enabled, epoch := t.observe(vm)
	if !enabled {
		return nil, cbtFileFault(diskFile, "change tracking is not enabled on the virtual machine")
	}

	capacity := getDiskSize(disk)
	if req.StartOffset < 0 || req.StartOffset >= capacity {
		return nil, cbtInvalidArgument("startOffset", fmt.Sprintf("%d is outside the disk (capacity %d)", req.StartOffset, capacity))
	}

	// Target state.
	var target *cbtState
	if snap != nil {
		id := cbtChangeID(snap.Self, disk.Key)
		t.mu.Lock()
		target = t.states[id]
		seen := t.seen[snap.Self]
		t.mu.Unlock()
		if target == nil {
			if seen {
				return nil, cbtFileFault(diskFile, fmt.Sprintf("change tracking was not enabled when %s was taken", snap.Self.Value))
			}
			// Snapshot created without the hook (e.g. the simulator run
			// in-process without RegisterEndpoints): record it now.
			log.Printf("vmmk-cbt: %s was not seen at creation; recording its disks now", snap.Self.Value)
			target = t.capture(vm, disk, epoch)
			t.mu.Lock()
			t.states[id] = target
			t.mu.Unlock()
		}
	} else {
		target = t.capture(vm, disk, epoch) // current content, not recorded
	}
	if target.err != nil {
		return nil, cbtFileFault(diskFile, target.err.Error())
	}

	// Base state: nothing (all zeros) for "*", else the change id's record.
	var base *cbtState
	switch {
	case req.ChangeId == "*":
	case !cbtParseChangeID(req.ChangeId):
		return nil, cbtInvalidArgument("changeId", fmt.Sprintf("%q is not a change id of this server", req.ChangeId))
	default:
		t.mu.Lock()
		base = t.states[req.ChangeId]
		t.mu.Unlock()
		if base == nil || base.vm != vm.Self || base.key != disk.Key || base.epoch != epoch {
			return nil, cbtFileFault(diskFile, fmt.Sprintf("change id %q is not valid for disk %d (unknown, another disk's, or from before a change tracking reset)", req.ChangeId, disk.Key))
		}
		if base.err != nil {
			return nil, cbtFileFault(diskFile, base.err.Error())
		}
	}

	start := req.StartOffset
	length := capacity - start
	if span := cbtSpan(); span > 0 && length > span {
		length = span
	}
	end := start + length

	info := &types.DiskChangeInfo{StartOffset: start, Length: length}
	nblocks := int64(len(target.blocks))
	if base != nil && int64(len(base.blocks)) > nblocks {
		nblocks = int64(len(base.blocks))
	}
	for i := start / cbtBlockSize; i < nblocks && i*cbtBlockSize < end; i++ {
		if target.digest(i) == base.digest(i) {
			continue
		}
		a := i * cbtBlockSize
		b := a + cbtBlockSize
		if a < start {
			a = start
		}
		if b > end {
			b = end
		}
		n := len(info.ChangedArea)
		if n > 0 && info.ChangedArea[n-1].Start+info.ChangedArea[n-1].Length == a {
			info.ChangedArea[n-1].Length += b - a
		} else {
			info.ChangedArea = append(info.ChangedArea, types.DiskChangeExtent{Start: a, Length: b - a})
		}
	}
	return info, nil
}

// QueryChangedDiskAreas implements the vSphere method on VirtualMachine.
func (vm *VirtualMachine) QueryChangedDiskAreas(ctx *Context, req *types.QueryChangedDiskAreas) soap.HasFault {
	body := &methods.QueryChangedDiskAreasBody{}
	info, f := vmmkCBT.query(ctx, vm, req)
	if f != nil {
		body.Fault_ = Fault(f.msg, f.fault)
		return body
	}
	body.Res = &types.QueryChangedDiskAreasResponse{Returnval: *info}
	return body
}
