/*-------------------------------------------------------------------------
 *
 * gucstate.c
 *	  Handing the caller's settings to the worker.
 *
 *	  A parallel worker gets its leader's settings with SerializeGUCState and
 *	  RestoreGUCState, which reset every setting that is not at its built-in
 *	  default and apply the leader's values again, those of the
 *	  configuration file included.  That costs a worker started just for one
 *	  statement a good part of its start-up: locale settings run setlocale,
 *	  the time zone settings look up zones, default_text_search_config reads
 *	  the catalogs, timezone_abbreviations re-reads its file.
 *
 *	  Our worker does not need that work.  It is a child of the same
 *	  postmaster (so it has the configuration file's values, and the
 *	  command line's), and it connects as the caller's authenticated user to
 *	  the caller's database (so InitPostgres applies the same ALTER
 *	  DATABASE / ALTER ROLE settings the caller got at login).  What the
 *	  caller has on top of those, the settings with a source above
 *	  PGC_S_DATABASE_USER (connection options, SET, SET LOCAL, function SET
 *	  clauses, SET SESSION AUTHORIZATION ...), is all it has to take over, and
 *	  that is what we ship, with the context and role that set each value,
 *	  exactly as RestoreGUCState applies them.  (The one difference: a
 *	  configuration reload, or an ALTER ROLE/DATABASE SET, that the caller
 *	  has not absorbed yet when the worker starts is seen by the worker.)
 *
 * IDENTIFICATION
 *	  extension/gucstate.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "gucstate.h"
#include "utils/guc.h"
#include "utils/guc_tables.h"

/* Binary part of an entry, after its two strings. */
typedef struct pgbg_setting_tail
{
	int32		source;			/* GucSource */
	int32		scontext;		/* GucContext that set the value */
	Oid			srole;			/* role that set the value */
} pgbg_setting_tail;

static bool ship_setting(struct config_generic *gconf);
static void restore_error_callback(void *arg);

/*
 * ship_setting
 *
 * Does the worker need this setting from us?
 */
static bool
ship_setting(struct config_generic *gconf)
{
	/* Same in every child of the postmaster, or set by special means */
	if (gconf->context == PGC_POSTMASTER || gconf->context == PGC_INTERNAL)
		return false;

	/* The worker gets these by itself, see above */
	if (gconf->source <= PGC_S_DATABASE_USER)
		return false;

	/* The worker sets the role explicitly (see restore_session_state) */
	if (strcmp(gconf->name, "role") == 0)
		return false;

	/*
	 * Our transaction's characteristics are our own: the worker starts its
	 * transaction from the default_transaction_* settings.
	 */
	if (strcmp(gconf->name, "transaction_isolation") == 0 ||
		strcmp(gconf->name, "transaction_read_only") == 0 ||
		strcmp(gconf->name, "transaction_deferrable") == 0)
		return false;

	/*
	 * The session user as set at login: the worker logs in as the same
	 * authenticated user, which sets it the same way.  (After SET SESSION
	 * AUTHORIZATION the source is PGC_S_SESSION, and it is shipped.)
	 */
	if (gconf->source == PGC_S_OVERRIDE &&
		strcmp(gconf->name, "session_authorization") == 0)
		return false;

	return true;
}

/*
 * pgbg_serialize_guc_state
 *
 * Collect the settings the worker must take over into buf: for each, its
 * name and value as NUL-terminated strings, then a pgbg_setting_tail.
 */
void
pgbg_serialize_guc_state(StringInfo buf)
{
	struct config_generic **vars;
	int			nvars;
	int			i;

#if PG_VERSION_NUM >= 160000
	vars = get_guc_variables(&nvars);
#else
	vars = get_guc_variables();
	nvars = GetNumConfigOptions();
#endif

	for (i = 0; i < nvars; i++)
	{
		struct config_generic *gconf = vars[i];
		pgbg_setting_tail tail;
		char		number[64];
		const char *value;

		if (!ship_setting(gconf))
			continue;

		switch (gconf->vartype)
		{
			case PGC_BOOL:
				value = *((struct config_bool *) gconf)->variable ? "on" : "off";
				break;
			case PGC_INT:
				snprintf(number, sizeof(number), "%d",
						 *((struct config_int *) gconf)->variable);
				value = number;
				break;
			case PGC_REAL:
				snprintf(number, sizeof(number), "%.17g",
						 *((struct config_real *) gconf)->variable);
				value = number;
				break;
			case PGC_STRING:
				value = *((struct config_string *) gconf)->variable;
				if (value == NULL)
					value = "";
				break;
			case PGC_ENUM:
				{
					struct config_enum *conf = (struct config_enum *) gconf;

					value = config_enum_lookup_by_value(conf, *conf->variable);
				}
				break;
			default:
				continue;
		}

		appendBinaryStringInfo(buf, gconf->name, strlen(gconf->name) + 1);
		appendBinaryStringInfo(buf, value, strlen(value) + 1);
		tail.source = (int32) gconf->source;
		tail.scontext = (int32) gconf->scontext;
#if PG_VERSION_NUM >= 150000
		tail.srole = gconf->srole;
#else
		tail.srole = InvalidOid;
#endif
		appendBinaryStringInfo(buf, (const char *) &tail, sizeof(tail));
	}
}

/*
 * pgbg_restore_guc_state
 *
 * Apply the settings collected by pgbg_serialize_guc_state, inside a
 * transaction (check hooks may consult the catalogs).
 */
void
pgbg_restore_guc_state(const char *data, Size len)
{
	const char *p = data;
	const char *end = data + len;
	ErrorContextCallback errcallback;
	const char *current[2] = {NULL, NULL};

	errcallback.callback = restore_error_callback;
	errcallback.arg = (void *) current;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	while (p < end)
	{
		const char *name;
		const char *value;
		pgbg_setting_tail tail;

		name = p;
		p += strlen(p) + 1;
		value = p;
		p += strlen(p) + 1;
		if (p + sizeof(tail) > end)
			elog(ERROR, "truncated settings from the launching session");
		memcpy(&tail, p, sizeof(tail));
		p += sizeof(tail);

		current[0] = name;
		current[1] = value;
#if PG_VERSION_NUM >= 150000
		(void) set_config_option_ext(name, value,
									 (GucContext) tail.scontext,
									 (GucSource) tail.source,
									 tail.srole,
									 GUC_ACTION_SET, true, ERROR, true);
#else
		(void) set_config_option(name, value,
								 (GucContext) tail.scontext,
								 (GucSource) tail.source,
								 GUC_ACTION_SET, true, ERROR, true);
#endif
	}

	error_context_stack = errcallback.previous;
}

/*
 * restore_error_callback
 *
 * Say which setting failed.
 */
static void
restore_error_callback(void *arg)
{
	const char **current = (const char **) arg;

	if (current[0] != NULL)
		errcontext("while setting parameter \"%s\" to \"%s\"",
				   current[0], current[1]);
}
