import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useRef, useState } from 'preact/hooks';
import { type ApiError, get, setBasedOn } from './api';
import type { Environment, EnvironmentList, ServerInfo, Version, VersionList } from './types';

// What every page reads: the server, its environments and versions, loaded once and refreshed
// after each action (and periodically, so requests counts and statuses stay current).

export interface Data {
  server: ServerInfo | null;
  environments: Environment[] | null;
  versions: Version[] | null;
  bot: string;
  error: Error | null;
  refresh: () => Promise<void>;
  /** The header's version switcher: "" for all versions. */
  version: string;
  setVersion: (v: string) => void;
  /** False when the resolver follows a remote repository: actions answer with commands. */
  writable: boolean;
}

export const DataContext = createContext<Data | null>(null);

export function useData(): Data {
  const data = useContext(DataContext);
  if (!data) throw new Error('useData outside DataContext');
  return data;
}

const REFRESH_MS = 15_000;

export function useLoadData(): Data {
  const [server, setServer] = useState<ServerInfo | null>(null);
  const [environments, setEnvironments] = useState<EnvironmentList | null>(null);
  const [versions, setVersions] = useState<VersionList | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [version, setVersion] = useState('');
  const serverKnown = useRef(false);

  const refresh = useCallback(async () => {
    try {
      const [e, v] = await Promise.all([get<EnvironmentList>('/v1/environments'), get<VersionList>('/v1/versions')]);
      setEnvironments(e);
      setVersions(v);
      setBasedOn(e.manifestCommit ?? null);
      setError(null);
    } catch (err) {
      if ((err as ApiError).status !== 401) setError(err as Error);
    }
    try {
      setServer(await get<ServerInfo>('/v1/server'));
      serverKnown.current = true;
    } catch (err) {
      // An older server has no /v1/server: it is then assumed writable (actions say otherwise).
      if (!serverKnown.current && (err as ApiError).status === 404) setServer({});
    }
  }, []);

  useEffect(() => {
    void refresh();
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') void refresh();
    }, REFRESH_MS);
    return () => clearInterval(timer);
  }, [refresh]);

  // A version that disappeared (deleted) stops filtering.
  useEffect(() => {
    if (version && versions && !versions.versions.some((v) => v.name === version)) setVersion('');
  }, [versions, version]);

  return {
    server,
    environments: environments?.environments ?? null,
    versions: versions?.versions ?? null,
    bot: server?.bot ?? environments?.bot ?? versions?.bot ?? '',
    error,
    refresh,
    version,
    setVersion,
    writable: server?.writable !== false,
  };
}
