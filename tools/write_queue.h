/* Writing on a thread of its own while the next layers are produced. Writes
 * into one file take the file's lock in the kernel, so threads sharing a
 * write do not speed it up; overlapping it with the work on the next layers
 * does. Jobs are written in the order given. Copies of input tensors hold
 * no memory of their own (they stream from the mapped input) and never
 * wait; a job of produced tensors waits while WRITE_QUEUE_PRODUCED others
 * are queued or being written, so memory holds that many layers' output
 * besides the one being produced. */
#ifndef W4A16_TOOLS_WRITE_QUEUE_H
#define W4A16_TOOLS_WRITE_QUEUE_H

#include "checkpoint/checkpoint_writer.h"
#include "w4a16.h"

/* Writes a job: the produced tensors, or (tensors empty) an input tensor
 * copied unchanged. Returns 0, or 1 after reporting one line. */
typedef int (*write_queue_fn)(void *context, const w4a16_tensor_list *tensors,
                              const w4a16_tensor_info *copy);

#define WRITE_QUEUE_PRODUCED 2

typedef struct write_queue write_queue;

/* Starts the writing thread; NULL (after reporting) when it cannot start. */
write_queue *write_queue_start(const char *command, write_queue_fn fn, void *context);
/* Hands a job over: takes *tensors (left empty) or a copy of *copy (one of
 * the two), waiting as said above. Returns 0, or 1 once a write has failed
 * (the failure already reported). */
int write_queue_push(write_queue *queue, w4a16_tensor_list *tensors, const w4a16_tensor_info *copy);
/* Waits for every job, stops the thread and frees the queue (NULL: nothing).
 * Returns 0, or 1 when a write failed. */
int write_queue_finish(write_queue *queue);

#endif
