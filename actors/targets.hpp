// actors/targets.hpp: where each datasource's copies go inside a volume.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "actors/sync_config.hpp"

namespace syncline::actors {

/// The target directory of datasource `c` in `volume`, relative to the volume's root:
/// `c.targets[volume]`, else `c.target`, else the datasource's id. `""` is the root itself.
std::string target_of(const datasource_config& c, const std::string& volume);

/// `target_of` for every volume `c` feeds.
std::map<std::string, std::string> targets_of(const datasource_config& c);

/// The volumes fed both `before` and `after` (two configurations of one datasource) whose
/// target differs between them: the links to forget, since their rows describe copies in the
/// old target.
std::vector<std::string> moved_targets(const datasource_config& before,
                                       const datasource_config& after);

/// Whether two targets of one volume share files: equal, or one inside the other (segment by
/// segment: `a` contains `a/b` but not `ab`; `""` contains everything).
bool targets_overlap(std::string_view a, std::string_view b) noexcept;

/// Why the targets of `c` are invalid on their own (a bad path, a target for a volume it does
/// not feed), or an empty string.
std::string target_problem(const datasource_config& c);

/// The first pair of datasources of `all` whose targets overlap in a volume, described for a
/// person (both ids, the volume, both targets, and how to fix it); empty when there is none.
/// Only datasources that feed the same volume can conflict.
std::string target_conflict(const std::vector<datasource_config>& all);

/// `target_conflict` of `candidate` against `others` (a datasource of `others` with the
/// candidate's id is the candidate's older self and is skipped).
std::string target_conflict(const datasource_config& candidate,
                            const std::vector<datasource_config>& others);

/// Why the folder of datasource `c` cannot be a source: it contains, or lies inside, the
/// directory of one of `volumes` (every volume of the node, not only those it feeds: each run
/// would copy that volume's copies, and its own into itself) or the node's `data_dir` (its
/// database and key). Paths are compared as real paths (symlinks resolved, as far as they
/// exist). Empty when there is no overlap or `c` is not a folder datasource. Stats a few paths.
std::string source_overlap(const datasource_config& c, const std::vector<volume_config>& volumes,
                           const std::string& data_dir);

/// Why a folder datasource made through the API may not read `path`: `roots` is empty (the
/// node allows none), or the real path of `path` lies outside the real path of every root.
/// Empty when it may. Names the setting, `[datasources] allowed_roots`. Stats a few paths.
std::string allowed_root_problem(const std::string& path, const std::vector<std::string>& roots);

}  // namespace syncline::actors
