/*-------------------------------------------------------------------------
 *
 * pg_background.h
 *	  Private definitions shared by the files of the pg_background extension:
 *	  the layout of the dynamic shared memory segment, the message protocol
 *	  spoken over the result queue, the session's worker table and prototypes.
 *
 * IDENTIFICATION
 *	  extension/pg_background.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_BACKGROUND_H
#define PG_BACKGROUND_H

#include "access/tupdesc.h"
#include "lib/stringinfo.h"
#include "nodes/execnodes.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/shm_mq.h"
#include "tcop/dest.h"
#include "utils/portal.h"
#include "utils/tuplestore.h"

/* Magic number identifying our dynamic shared memory segments ("PGBG"). */
#define PG_BACKGROUND_MAGIC				0x50474247

/* Keys of the shm_toc stored at the start of the segment. */
#define PG_BACKGROUND_KEY_FIXED			0
#define PG_BACKGROUND_KEY_SQL			1
#define PG_BACKGROUND_KEY_SETTINGS			2
#define PG_BACKGROUND_KEY_QUEUE			3
#define PG_BACKGROUND_NKEYS				4

/* Accepted range of the queue_size argument of pg_background_launch. */
#define PG_BACKGROUND_MIN_QUEUE_SIZE	64
#define PG_BACKGROUND_MAX_QUEUE_SIZE	(256 * 1024 * 1024)

/* Name shown as backend_type and application_name of our workers. */
#define PG_BACKGROUND_WORKER_TYPE		"pg_background"

/*
 * Message types of the protocol spoken over the result queue.  They are the
 * letters of the frontend/backend protocol version 3 (PostgreSQL 17 calls
 * them PqMsg_*), because the worker produces its messages with the server's
 * own code: printtup, EndCommand, ReadyForQuery and elog.c.
 */
#define PGBG_MSG_ROW_DESCRIPTION		'T'
#define PGBG_MSG_DATA_ROW				'D'
#define PGBG_MSG_COMMAND_COMPLETE		'C'
#define PGBG_MSG_ERROR_RESPONSE			'E'
#define PGBG_MSG_NOTICE_RESPONSE		'N'
#define PGBG_MSG_READY_FOR_QUERY		'Z'

/* Format code of a column sent as the image of its datum (0 is text). */
#define PGBG_FORMAT_RAW					1

/*
 * Every message the worker sends is framed as a type byte, a length word
 * (uint32 in native byte order, payload only) and the payload.  Several
 * frames are packed into one shm_mq message so that a large result costs
 * few queue operations and few latch wake-ups.
 */
#define PGBG_FRAME_HEADER_SIZE			(1 + sizeof(uint32))

/*
 * Fixed-size part of the segment: who the worker must become and where the
 * worker reports its process ID.
 */
typedef struct pg_background_fixed
{
	Oid			database_id;	/* caller's database */
	Oid			authenticated_user_id;	/* the worker connects as this user */
	Oid			current_user_id;	/* caller's current user */
	Oid			outer_user_id;	/* caller's SET ROLE, or InvalidOid */
	int			sec_context;	/* caller's security context */
	int32		queue_size;		/* size of the result queue in bytes */
	uint32		settings_len;	/* bytes of settings, see settings.c */
	int32		worker_pid;		/* set by the worker before it attaches */
} pg_background_fixed;

/*
 * One entry of the session's worker table, kept in TopMemoryContext and
 * keyed by the worker's process ID.
 */
typedef struct pg_background_worker
{
	int32		pid;			/* hash key: the worker's process ID */
	dsm_segment *seg;			/* segment holding the result queue */
	shm_mq_handle *mqh;			/* our (receiving) end of the queue */
	BackgroundWorkerHandle *handle; /* to ask the postmaster about it */
	const char *sql;			/* the SQL text, in the segment */
	bool		reading;		/* pg_background_result is consuming it */
	SubTransactionId reading_subid; /* subtransaction that started reading */
} pg_background_worker;

/* Opaque state of one pg_background_result call, see result.c. */
typedef struct pgbg_result_state pgbg_result_state;

/* pg_background.c */
extern PGDLLIMPORT bool pgbg_text_transfer;

/* launch.c */
extern int32 pgbg_launch(const char *sql, Size sql_len, int32 queue_size);
extern pg_background_worker *pgbg_find_worker(int32 pid);
extern void pgbg_forget_worker(pg_background_worker *worker, bool finished);
extern void pgbg_error_not_attached(int32 pid) pg_attribute_noreturn();

/* result.c */
extern pgbg_result_state *pgbg_result_begin(int32 pid, TupleDesc tupdesc,
											ExprContext *econtext);
extern void pgbg_result_read(pgbg_result_state *state,
							 Tuplestorestate *tupstore);
extern void pgbg_result_end(pgbg_result_state *state);

/* output.c */
extern void pgbg_redirect_output(dsm_segment *seg, shm_mq_handle *mqh,
								 Size queue_size);
extern DestReceiver *pgbg_create_receiver(Portal portal);

/* settings.c */
extern void pgbg_serialize_settings(StringInfo buf);
extern void pgbg_restore_settings(const char *data, Size len);

/* worker.c */
extern PGDLLEXPORT void pg_background_worker_main(Datum main_arg);

#endif							/* PG_BACKGROUND_H */
