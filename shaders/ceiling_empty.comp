#version 450
// bench_roofline's vulkan/dispatch_overhead: a dispatch that does nothing, so
// its time is the cost of a dispatch and the barrier after it.
layout(local_size_x = 64) in;

void main() {}
