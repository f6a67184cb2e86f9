/*-------------------------------------------------------------------------
 *
 * privileges.c
 *	  Who may use the extension: grant_pg_background_privileges and
 *	  revoke_pg_background_privileges give a role, or take back, EXECUTE on
 *	  the functions that run and watch workers and USAGE on the types;
 *	  pg_background_drop_executor_role drops the role the install created.
 *	  All three are SECURITY DEFINER with a fixed search_path: only the
 *	  extension's owner may call them.
 *
 * IDENTIFICATION
 *	  extension/privileges.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

/* The role the install script creates and grants the extension to. */
#define PGBG_EXECUTOR_ROLE		"pgbackground_role"

/*
 * The GRANT (or REVOKE) commands for a role: one per function of the
 * extension but the SECURITY DEFINER ones (these three), one per type
 * (array types follow their element type).  The names are qualified by the
 * extension's schema, wherever it is.  $1 the extension, $2 GRANT or
 * REVOKE, $3 TO or FROM, $4 the role.
 */
static const char *const commands_query =
"SELECT pg_catalog.format('%s %s ON %s %s %s %I', $2, o.privilege, o.kind, o.name, $3, $4)"
" FROM (SELECT 'EXECUTE' AS privilege, 'FUNCTION' AS kind,"
"              pg_catalog.format('%I.%I(%s)', n.nspname, p.proname,"
"                                pg_catalog.pg_get_function_identity_arguments(p.oid)) AS name"
"       FROM pg_catalog.pg_depend d"
"       JOIN pg_catalog.pg_proc p ON p.oid = d.objid"
"       JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace"
"       WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass"
"         AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass"
"         AND d.refobjid = $1 AND d.deptype = 'e' AND NOT p.prosecdef"
"       UNION ALL"
"       SELECT 'USAGE', 'TYPE', pg_catalog.format('%I.%I', n.nspname, t.typname)"
"       FROM pg_catalog.pg_depend d"
"       JOIN pg_catalog.pg_type t ON t.oid = d.objid"
"       JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace"
"       WHERE d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass"
"         AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass"
"         AND d.refobjid = $1 AND d.deptype = 'e' AND t.typcategory <> 'A') o"
" ORDER BY o.kind, o.name";

PG_FUNCTION_INFO_V1(grant_pg_background_privileges);
PG_FUNCTION_INFO_V1(revoke_pg_background_privileges);
PG_FUNCTION_INFO_V1(pg_background_drop_executor_role);

static bool set_privileges(const char *role, bool grant, bool print);
static void run_commands(Oid extension, const char *role, bool grant,
						 bool print);

/*
 * grant_pg_background_privileges(role_name text,
 *								  print_commands bool DEFAULT false)
 *	 RETURNS bool
 */
Datum
grant_pg_background_privileges(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(set_privileges(text_to_cstring(PG_GETARG_TEXT_PP(0)),
								  true, PG_GETARG_BOOL(1)));
}

/*
 * revoke_pg_background_privileges(role_name text,
 *								   print_commands bool DEFAULT false)
 *	 RETURNS bool
 */
Datum
revoke_pg_background_privileges(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(set_privileges(text_to_cstring(PG_GETARG_TEXT_PP(0)),
								  false, PG_GETARG_BOOL(1)));
}

/*
 * pg_background_drop_executor_role() RETURNS void
 *
 * Drop pgbackground_role, after revoking what it has in this database: the
 * extension's privileges, then everything else with DROP OWNED, which also
 * clears the initial privileges that PostgreSQL 17 and later record for
 * extension members (they would keep DROP ROLE from going through).  A role
 * that owns objects is left alone, for DROP OWNED would drop them; and
 * privileges it still holds elsewhere (the extension in another database,
 * say) make DROP ROLE fail, naming them.
 */
Datum
pg_background_drop_executor_role(PG_FUNCTION_ARGS)
{
	Oid			role = get_role_oid(PGBG_EXECUTOR_ROLE, true);
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1];

	if (!OidIsValid(role))
	{
		ereport(NOTICE,
				(errmsg("role \"%s\" does not exist, skipping",
						PGBG_EXECUTOR_ROLE)));
		PG_RETURN_VOID();
	}
	if (!set_privileges(PGBG_EXECUTOR_ROLE, false, false))
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("could not revoke the privileges of role \"%s\"",
						PGBG_EXECUTOR_ROLE)));

	SPI_connect();
	args[0] = ObjectIdGetDatum(role);
	if (SPI_execute_with_args("SELECT 1 FROM pg_catalog.pg_shdepend"
							  " WHERE refclassid = 'pg_catalog.pg_authid'::pg_catalog.regclass"
							  " AND refobjid = $1 AND deptype = 'o' LIMIT 1",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look up the objects of role \"%s\"",
			 PGBG_EXECUTOR_ROLE);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("role \"%s\" owns objects", PGBG_EXECUTOR_ROLE),
				 errhint("Reassign or drop them (REASSIGN OWNED, DROP OWNED) first.")));
	if (SPI_execute("DROP OWNED BY " PGBG_EXECUTOR_ROLE, false, 0) != SPI_OK_UTILITY ||
		SPI_execute("DROP ROLE " PGBG_EXECUTOR_ROLE, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not drop role \"%s\"", PGBG_EXECUTOR_ROLE);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * set_privileges
 *
 * Grant or revoke the use of the extension, in a subtransaction: on
 * failure nothing is changed, a NOTICE says why, and the result is false.
 * A cancel is not a failure: it goes on.
 */
static bool
set_privileges(const char *role, bool grant, bool print)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	Oid			extension = get_extension_oid("pg_background", true);
	bool		ok = true;

	if (!OidIsValid(extension))
	{
		ereport(NOTICE,
				(errmsg("extension \"pg_background\" is not installed in this database")));
		return false;
	}
	if (!OidIsValid(get_role_oid(role, true)))
	{
		ereport(NOTICE, (errmsg("role \"%s\" does not exist", role)));
		return false;
	}

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		run_commands(extension, role, grant, print);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
			ReThrowError(edata);
		ereport(NOTICE,
				(errmsg("could not %s the privileges of pg_background %s role \"%s\": %s",
						grant ? "grant" : "revoke", grant ? "to" : "from",
						role, edata->message)));
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcontext);
	CurrentResourceOwner = oldowner;
	return ok;
}

/*
 * run_commands
 *
 * Build the commands from the catalog, then run them.
 */
static void
run_commands(Oid extension, const char *role, bool grant, bool print)
{
	Oid			argtypes[4] = {OIDOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		args[4];
	char	  **commands;
	uint64		n;
	uint64		i;

	args[0] = ObjectIdGetDatum(extension);
	args[1] = CStringGetTextDatum(grant ? "GRANT" : "REVOKE");
	args[2] = CStringGetTextDatum(grant ? "TO" : "FROM");
	args[3] = CStringGetTextDatum(role);

	SPI_connect();
	if (SPI_execute_with_args(commands_query, 4, argtypes, args, NULL, true,
							  0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the objects of extension pg_background");

	/* The list first: running a command replaces SPI_tuptable */
	n = SPI_processed;
	commands = palloc(sizeof(char *) * Max(n, 1));
	for (i = 0; i < n; i++)
		commands[i] = SPI_getvalue(SPI_tuptable->vals[i],
								   SPI_tuptable->tupdesc, 1);

	for (i = 0; i < n; i++)
	{
		if (print)
			ereport(NOTICE, (errmsg_internal("%s", commands[i])));
		if (SPI_execute(commands[i], false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "\"%s\" failed", commands[i]);
	}
	SPI_finish();
}
